// The library API that `coap-gateway --demo` uses: the server on a caller's io_context, driven
// here from a second thread with blocking sockets. Every blocking read has a receive timeout.
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <future>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include "sim/server.hpp"
#include "sim_fixture.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

class client {
 public:
  explicit client(std::uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    timeval tv{10, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send(const std::string& raw) { asio::write(socket_, asio::buffer(raw)); }
  // Everything until the server closes (or the receive timeout).
  std::string read_all() {
    std::string out;
    boost::system::error_code ec;
    asio::read(socket_, asio::dynamic_buffer(out), ec);
    return out;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
};

std::string once(std::uint16_t port, const std::string& target, const std::string& extra = {}) {
  client c{port};
  c.send("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra + "\r\n");
  return c.read_all();
}

struct running {
  asio::io_context ioc;
  gw::sim::server sim{ioc, sim_test::example_state(), "127.0.0.1", 0};
  std::uint16_t port = 0;
  std::future<void> loop;

  running() {
    const auto bound = sim.start();
    REQUIRE(bound.has_value());
    port = *bound;
    loop = std::async(std::launch::async, [this] { ioc.run(); });
  }
  ~running() {
    sim.stop();
    if (loop.wait_for(10s) != std::future_status::ready) ioc.stop();
  }
  // stop() lets run() return: nothing of the server is left on the io_context.
  bool stops() {
    sim.stop();
    return loop.wait_for(10s) == std::future_status::ready;
  }
};

}  // namespace

TEST_CASE("server: start binds a free port and serves on the caller's io_context", "[server]") {
  running r;
  CHECK(r.port != 0);
  CHECK(r.sim.url() == "http://127.0.0.1:" + std::to_string(r.port));
  const auto answer = once(r.port, "/onep:v1/stack/alias?temp",
                           "X-Exosite-CIK: " + std::string(sim_test::demo_cik) + "\r\n");
  CHECK(answer.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(answer.find("Content-Length: 9\r\n") != std::string::npos);
  CHECK(answer.find("Connection: close\r\n") != std::string::npos);
  CHECK(answer.ends_with("\r\n\r\ntemp=21.5"));
  CHECK(r.stops());
}

TEST_CASE("server: stop ends a waiting long-poll without an answer", "[server]") {
  running r;
  client poll{r.port};
  poll.send(
      "GET /onep:v1/stack/alias?temp HTTP/1.1\r\nHost: x\r\nRequest-Timeout: 60000\r\n"
      "X-Exosite-CIK: " +
      std::string(sim_test::demo_cik) + "\r\n\r\n");
  // Wait, with a deadline, for the long-poll to be registered; other requests still answer.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (once(r.port, "/_sim/stats").find("\"longpolls_active\":1") == std::string::npos) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
  }
  CHECK(r.stops());
  CHECK(poll.read_all().empty());
}

TEST_CASE("server: start reports bad addresses, busy ports and missing TLS files", "[server]") {
  asio::io_context ioc;
  gw::sim::server bad_host{ioc, gw::sim::state{}, "not-an-address", 0};
  CHECK(bad_host.start().has_error());

  gw::sim::server first{ioc, gw::sim::state{}, "127.0.0.1", 0};
  const auto port = first.start();
  REQUIRE(port.has_value());
  gw::sim::server second{ioc, gw::sim::state{}, "127.0.0.1", *port};
  CHECK(second.start().has_error());

  gw::sim::server tls{ioc, gw::sim::state{}, "127.0.0.1", 0,
                      gw::sim::tls_files{"/nonexistent/cert.pem", "/nonexistent/key.pem"}};
  CHECK(tls.start().has_error());
  CHECK(tls.url().starts_with("https://127.0.0.1:"));

  gw::sim::server v6{ioc, gw::sim::state{}, "[::1]", 0};
  if (v6.start()) CHECK(v6.url().starts_with("http://[::1]:"));
}
