#include <catch2/catch.hpp>

#include "sim/command_line.hpp"

using gw::sim::command_line;

namespace {

bool parse(std::vector<std::string_view> args, command_line& out, std::string& problem) {
  return gw::sim::parse_command_line(args, out, problem);
}

}  // namespace

TEST_CASE("parse_listen accepts IPv4 and bracketed IPv6 literals", "[command_line]") {
  std::string host;
  std::uint16_t port = 1;
  CHECK(gw::sim::parse_listen("127.0.0.1:0", host, port));
  CHECK(host == "127.0.0.1");
  CHECK(port == 0);
  CHECK(gw::sim::parse_listen("[::1]:8080", host, port));
  CHECK(host == "[::1]");
  CHECK(port == 8080);
  for (const char* bad :
       {"127.0.0.1", ":80", "::1:80", "127.0.0.1:65536", "127.0.0.1:x", "127.0.0.1:"}) {
    INFO(bad);
    CHECK_FALSE(gw::sim::parse_listen(bad, host, port));
  }
}

TEST_CASE("parse_command_line", "[command_line]") {
  command_line cl;
  std::string problem;
  REQUIRE(parse({"--listen", "[::1]:0", "--state", "s.yaml", "--max-requests-per-connection", "1",
                 "--tls-cert", "c.pem", "--tls-key", "k.pem"},
                cl, problem));
  CHECK(cl.host == "[::1]");
  CHECK(cl.state_file == "s.yaml");
  CHECK(cl.options.max_requests_per_connection == 1);
  REQUIRE(cl.tls);
  CHECK(cl.tls->cert == "c.pem");
  CHECK(cl.tls->key == "k.pem");

  command_line defaults;
  REQUIRE(parse({"--listen", "127.0.0.1:0", "--state", "s.yaml"}, defaults, problem));
  CHECK(defaults.options.max_requests_per_connection == 100);
  CHECK_FALSE(defaults.tls);

  command_line help;
  CHECK(parse({"--help"}, help, problem));
  CHECK(help.help);

  for (const auto& bad : std::vector<std::vector<std::string_view>>{
           {},
           {"--listen", "127.0.0.1:0"},
           {"--state", "s.yaml"},
           {"--listen", "nope", "--state", "s"},
           {"--listen", "127.0.0.1:0", "--state", "s", "--tls-cert", "c"},
           {"--listen", "127.0.0.1:0", "--state", "s", "--max-requests-per-connection", "-1"},
           {"--listen", "127.0.0.1:0", "--state", "s", "--colour", "red"},
           {"--listen"}}) {
    command_line out;
    problem.clear();
    CHECK_FALSE(parse(bad, out, problem));
    CHECK_FALSE(problem.empty());
  }
}
