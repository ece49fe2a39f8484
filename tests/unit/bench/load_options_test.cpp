#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "bench/load/load_options.hpp"
#include "gateway/coap/codec.hpp"

using namespace gw::bench;
using namespace std::chrono_literals;
namespace coap = gw::coap;

namespace {

bool parse(std::vector<std::string_view> args, load_options& out, std::string& problem) {
  return parse_command_line(args, out, problem);
}

const char* const cik = "a32c85ba9dda45823be416246cf8b433baa068d7";

}  // namespace

TEST_CASE("defaults: 64 closed-loop CON clients, one in flight, GET /.well-known/core",
          "[options]") {
  load_options o;
  std::string problem;
  REQUIRE(parse({}, o, problem));
  CHECK(o.clients == 64);
  CHECK(o.outstanding == 1);
  CHECK_FALSE(o.rate);
  CHECK_FALSE(o.non);
  CHECK(o.retransmit);
  CHECK(o.target_address == 0x7f000001);
  CHECK(o.target_port == 5683);
  CHECK(coap::encode(make_request(o.request, "")) == coap::encode([] {
          coap::message m;
          m.code = coap::codes::get;
          m.add_option(coap::opt::uri_path, ".well-known");
          m.add_option(coap::opt::uri_path, "core");
          return m;
        }()));
}

TEST_CASE("a full command line", "[options]") {
  load_options o;
  std::string problem;
  REQUIRE(parse({"--target",
                 "127.0.0.9:40001",
                 "--clients",
                 "5000",
                 "--rate",
                 "2500.5",
                 "--poisson",
                 "--non",
                 "--request",
                 "POST /1a/temp?<CIK>",
                 "--payload",
                 "21.5",
                 "--content-format",
                 "0",
                 "--cik",
                 cik,
                 "--duration",
                 "1.5s",
                 "--warmup",
                 "250ms",
                 "--drain",
                 "0",
                 "--timeout",
                 "3",
                 "--ack-timeout",
                 "500ms",
                 "--max-retransmit",
                 "2",
                 "--sources",
                 "127.0.0.2-127.0.0.4",
                 "--seed",
                 "99",
                 "--json",
                 "-"},
                o, problem));
  CHECK(o.target_address == 0x7f000009);
  CHECK(o.target_port == 40001);
  CHECK(o.clients == 5000);
  REQUIRE(o.rate);
  CHECK(*o.rate == 2500.5);
  CHECK(o.poisson);
  CHECK(o.non);
  CHECK(o.outstanding == 16);  // open loop's default bound per client
  CHECK(o.request.method == coap::codes::post);
  CHECK(o.payload == "21.5");
  CHECK(o.content_format == 0);
  CHECK(o.duration == 1500ms);
  CHECK(o.warmup == 250ms);
  CHECK(o.drain == 0s);
  CHECK(o.timeout == 3s);
  CHECK(o.ack_timeout == 500ms);
  CHECK(o.max_retransmit == 2);
  CHECK(o.sources == std::vector<std::uint32_t>{0x7f000002, 0x7f000003, 0x7f000004});
  CHECK(o.seed == 99);
  CHECK(o.json_path == "-");
}

TEST_CASE("the request template: method, path segments, queries, <CIK> substituted", "[options]") {
  request_template t;
  std::string problem;
  REQUIRE(parse_request_template("GET /1a/temp?<CIK>&x=1", t, problem));
  CHECK(t.needs_cik());
  const auto m = make_request(t, cik);
  CHECK(m.code == coap::codes::get);
  CHECK(m.path() == std::vector<std::string>{"1a", "temp"});
  CHECK(m.queries() == std::vector<std::string>{cik, "x=1"});

  REQUIRE(parse_request_template("POST /provision/activate/demo/gateway/0002", t, problem));
  CHECK_FALSE(t.needs_cik());
  CHECK(make_request(t, "").path_string() == "/provision/activate/demo/gateway/0002");

  REQUIRE(parse_request_template("GET /", t, problem));
  CHECK(t.path.empty());

  for (const char* bad : {"GET", "BREW /pot", "GET 1a/temp", "get /x"}) {
    INFO(bad);
    CHECK_FALSE(parse_request_template(bad, t, problem));
  }
}

TEST_CASE("sources: one address or an inclusive range", "[options]") {
  std::vector<std::uint32_t> s;
  std::string problem;
  REQUIRE(parse_sources("127.0.0.2-127.0.0.50", s, problem));
  CHECK(s.size() == 49);
  CHECK(s.front() == 0x7f000002);
  CHECK(s.back() == 0x7f000032);
  REQUIRE(parse_sources("127.0.1.255-127.0.2.1", s, problem));
  CHECK(s == std::vector<std::uint32_t>{0x7f0001ff, 0x7f000200, 0x7f000201});
  REQUIRE(parse_sources("127.0.0.7", s, problem));
  CHECK(s == std::vector<std::uint32_t>{0x7f000007});
  for (const char* bad : {"127.0.0.50-127.0.0.2", "127.0.0", "127.0.0.256", "127.0.0.1-",
                          "127..0.1", "10.0.0.0-10.2.0.0"}) {
    INFO(bad);
    CHECK_FALSE(parse_sources(bad, s, problem));
  }
}

TEST_CASE("durations take s, ms, us, m or no unit (seconds)", "[options]") {
  nanoseconds d{};
  CHECK((parse_duration("5", d) && d == 5s));
  CHECK((parse_duration("1.5s", d) && d == 1500ms));
  CHECK((parse_duration("250ms", d) && d == 250ms));
  CHECK((parse_duration("40us", d) && d == 40us));
  CHECK((parse_duration("2m", d) && d == 120s));
  for (const char* bad : {"", "s", "5h", "-1s", "1.2.3s", "5 s"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration(bad, d));
  }
}

TEST_CASE("refused command lines say why", "[options]") {
  const std::vector<std::vector<std::string_view>> bad = {
      {"--clients", "0"},
      {"--clients"},
      {"--rate", "0"},
      {"--rate", "nan"},
      {"--outstanding", "0"},
      {"--target", "localhost:5683"},
      {"--target", "127.0.0.1"},
      {"--duration", "0"},
      {"--request", "GET /1a/temp?<CIK>"},  // no CIK given
      {"--observe", "--rate", "100"},
      {"--write", "POST /1a/temp"},                              // writes are for observe mode
      {"--register-over", "1s"},                                 // observe mode only
      {"--observe", "--warmup", "1s", "--register-over", "2s"},  // within the warm-up
      {"--bogus", "1"},
  };
  for (const auto& args : bad) {
    load_options o;
    std::string problem;
    INFO(args.front());
    CHECK_FALSE(parse(args, o, problem));
    CHECK_FALSE(problem.empty());
  }
}

TEST_CASE("observe mode with a writer", "[options]") {
  load_options o;
  std::string problem;
  REQUIRE(parse({"--observe", "--request", "GET /1a/temp?<CIK>", "--write", "POST /1a/temp?<CIK>",
                 "--write-interval", "200ms", "--ciks", "/nonexistent"},
                o, problem));
  CHECK(o.observe);
  REQUIRE(o.write);
  CHECK(o.write->method == coap::codes::post);
  CHECK(o.write_interval == 200ms);
  CHECK(o.ciks_file == "/nonexistent");
  std::vector<std::string> ciks;
  CHECK_FALSE(load_ciks(o.ciks_file, ciks, problem));
}

TEST_CASE("--register-over: registrations in the first part of the warm-up", "[options]") {
  load_options o;
  std::string problem;
  REQUIRE(parse({"--observe", "--register-over", "2s", "--warmup", "3500ms"}, o, problem));
  REQUIRE(o.register_over);
  CHECK(*o.register_over == 2s);
  CHECK(o.warmup == 3500ms);
}

TEST_CASE("--dtls-psk: the identity ends at the first unescaped ':', keys hex, text or bare",
          "[options][dtls]") {
  dtls_psk p;
  std::string problem;
  REQUIRE(parse_dtls_psk("bench:bench-key", p, problem));
  CHECK(p.identity == "bench");
  CHECK(p.key == std::vector<std::uint8_t>{'b', 'e', 'n', 'c', 'h', '-', 'k', 'e', 'y'});
  REQUIRE(parse_dtls_psk("sensor-17:hex:00ff10Ab", p, problem));
  CHECK(p.identity == "sensor-17");
  CHECK(p.key == std::vector<std::uint8_t>{0x00, 0xff, 0x10, 0xab});
  // The same escapes as the gateway's psk_file (docs/dtls.md).
  REQUIRE(parse_dtls_psk(R"(urn\:dev\:42\\x:text:a:b)", p, problem));
  CHECK(p.identity == R"(urn:dev:42\x)");
  CHECK(p.key == std::vector<std::uint8_t>{'a', ':', 'b'});

  for (const char* bad :
       {"no-colon", ":key", "id:", "id:hex:0", "id:hex:zz", "id:text:", R"(id\:only)"}) {
    INFO(bad);
    CHECK_FALSE(parse_dtls_psk(bad, p, problem));
    CHECK_FALSE(problem.empty());
  }
  CHECK_FALSE(parse_dtls_psk("id:" + std::string(65, 'k'), p, problem));
  CHECK(parse_dtls_psk("id:" + std::string(64, 'k'), p, problem));
}

TEST_CASE("DTLS options: PSK, ciphers, handshake concurrency and timeout, idle",
          "[options][dtls]") {
  load_options o;
  std::string problem;
  REQUIRE(parse({"--dtls-psk", "bench:hex:0102", "--dtls-ciphers", "PSK-AES128-GCM-SHA256",
                 "--handshake-concurrency", "8", "--handshake-timeout", "3s", "--idle"},
                o, problem));
  REQUIRE(o.dtls);
  CHECK(o.dtls->identity == "bench");
  CHECK(o.dtls->key == std::vector<std::uint8_t>{1, 2});
  CHECK(o.dtls_ciphers == "PSK-AES128-GCM-SHA256");
  CHECK(o.handshake_concurrency == 8);
  CHECK(o.handshake_timeout == 3s);
  CHECK(o.idle);

  load_options d;
  REQUIRE(parse({}, d, problem));
  CHECK_FALSE(d.dtls);
  CHECK(d.dtls_ciphers == "PSK-AES128-CCM8");  // RFC 7252 §9.1.3.1's mandatory suite
  CHECK(d.handshake_concurrency == 64);

  CHECK_FALSE(parse({"--handshake-concurrency", "0"}, d, problem));
  CHECK_FALSE(parse({"--dtls-psk", "nokey"}, d, problem));
  CHECK(problem.find("--dtls-psk") != std::string::npos);
  // Idle clients send nothing: neither a rate nor registrations make sense with it.
  CHECK_FALSE(parse({"--idle", "--rate", "100"}, d, problem));
  CHECK_FALSE(parse({"--idle", "--observe"}, d, problem));
}
