// The client against the real onep-sim binary (label integration): keep-alive reuse as the
// server counts it, and the sim's per-connection request limit handled without a failure.
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/unit/upstream/client_fixture.hpp"
#include "tests/unit/upstream/test_loop.hpp"

extern char** environ;

namespace asio = boost::asio;
using namespace gw::upstream;
using namespace gw::upstream::test;

namespace {

std::string env_or_throw(const char* name) {
  const char* value = std::getenv(name);
  if (!value) throw std::runtime_error(std::string(name) + " is not set (run through ctest)");
  return value;
}

// onep-sim on 127.0.0.1:0 with the example state; killed when the object goes.
class sim_process {
 public:
  explicit sim_process(std::vector<std::string> extra) {
    std::vector<std::string> args{env_or_throw("GW_BIN_DIR") + "/onep-sim", "--listen",
                                  "127.0.0.1:0", "--state", env_or_throw("GW_SIM_STATE")};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    const int spawned = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    stdout_ = out[0];
    if (spawned != 0) {
      pid_ = -1;
      throw std::runtime_error("cannot start " + args[0]);
    }
    url_ = read_ready_line();
  }
  ~sim_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (stdout_ >= 0) ::close(stdout_);
  }
  sim_process(const sim_process&) = delete;
  sim_process& operator=(const sim_process&) = delete;

  const std::string& url() const { return url_; }

 private:
  // The sim prints one line once it listens; a generous bound covers a loaded machine.
  std::string read_ready_line() {
    static constexpr std::string_view prefix = "onep-sim listening on ";
    std::string line;
    while (line.find('\n') == std::string::npos) {
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, 30000) != 1) throw std::runtime_error("onep-sim did not start in 30 s");
      char chunk[256];
      const auto n = ::read(stdout_, chunk, sizeof chunk);
      if (n <= 0) throw std::runtime_error("onep-sim exited before listening");
      line.append(chunk, static_cast<std::size_t>(n));
    }
    line.resize(line.find('\n'));
    if (line.rfind(prefix, 0) != 0) throw std::runtime_error("unexpected line: " + line);
    return line.substr(prefix.size());
  }

  pid_t pid_ = -1;
  int stdout_ = -1;
  std::string url_;
};

asio::awaitable<nlohmann::json> sim_stats(client& c) {
  const auto res = co_await c.async_send(get("/_sim/stats"));
  REQUIRE(res.has_value());
  REQUIRE(res->status == 200);
  co_return nlohmann::json::parse(res->body);
}

}  // namespace

TEST_CASE("sequential requests to onep-sim use one connection", "[upstream][sim]") {
  sim_process sim({});
  asio::io_context io;
  auto client = make_client(io, options_for(sim.url()));
  auto body = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 20; ++i) {
      const auto res = co_await client->async_send(get("/timestamp"));
      REQUIRE(res.has_value());
      CHECK(res->status == 200);
      CHECK(std::strtoll(res->body.c_str(), nullptr, 10) > 1'000'000'000);
    }
    const auto stats = co_await sim_stats(*client);
    CHECK(stats.at("connections") == 1);
    CHECK(stats.at("endpoints").at("timestamp").at("requests") == 20);
    CHECK(client->stats().opened_total == 1);
  };
  run(io, body, [&] { client->close(); });
}

TEST_CASE("onep-sim closing after every request costs no request", "[upstream][sim]") {
  sim_process sim({"--max-requests-per-connection", "1"});
  asio::io_context io;
  auto options = options_for(sim.url());
  options.max_connections = 4;
  auto client = make_client(io, options);
  constexpr std::size_t n = 40;
  std::vector<std::optional<result>> results(n);
  latch done(io.get_executor(), n);
  auto body = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 20; ++i) {
      const auto res = co_await client->async_send(get("/timestamp"));
      REQUIRE(res.has_value());
      CHECK(res->status == 200);
    }
    for (auto& r : results) spawn_send(io.get_executor(), *client, get("/timestamp"), r, done);
    co_await done.wait();
    for (auto& r : results) {
      REQUIRE(r->has_value());
      CHECK((*r)->status == 200);
    }
    const auto stats = co_await sim_stats(*client);
    CHECK(stats.at("connections") == 20 + n + 1);
    CHECK(stats.at("endpoints").at("timestamp").at("requests") == 20 + n);
  };
  run(io, body, [&] { client->close(); });
}
