// The scrape/probe endpoint over a real loopback socket. The client is plain POSIX sockets with
// poll() deadlines, so a hung server fails a test instead of hanging it, and what is checked is
// the bytes on the wire, not Beast's reading of them.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <future>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "metrics/http_endpoint.hpp"
#include "metrics/registry.hpp"
#include "metrics/text_format.hpp"

namespace m = gw::metrics;
using namespace std::chrono_literals;

namespace {

struct reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  bool closed_without_reply = false;
  std::string header(const std::string& lower_case_name) const {
    const auto it = headers.find(lower_case_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class connection {
 public:
  explicit connection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("connect failed");
    }
  }
  ~connection() { close(); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Everything until the server closes; throws when that takes longer than `limit`.
  std::string read_to_end(std::chrono::milliseconds limit = 10s) {
    std::string out;
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        throw std::runtime_error("server did not close in time");
      }
      char buf[4096];
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0) throw std::runtime_error("recv failed");
      if (n == 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

reply parse(const std::string& raw) {
  reply r;
  if (raw.empty()) {
    r.closed_without_reply = true;
    return r;
  }
  const auto head_end = raw.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  REQUIRE(raw.starts_with("HTTP/1.1 "));
  r.status = std::stoi(raw.substr(9, 3));
  std::size_t pos = raw.find("\r\n") + 2;
  while (pos < head_end) {
    const auto eol = raw.find("\r\n", pos);
    const auto line = raw.substr(pos, eol - pos);
    const auto colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    pos = eol + 2;
  }
  r.body = raw.substr(head_end + 4);
  return r;
}

reply round_trip(std::uint16_t port, std::string_view request) {
  connection c(port);
  c.send(request);
  return parse(c.read_to_end());
}

reply get(std::uint16_t port, std::string_view target) {
  return round_trip(port, "GET " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

// An endpoint served by a thread of its own, as the gateway runs it.
class served_endpoint {
 public:
  explicit served_endpoint(m::http_endpoint_options options) : endpoint_(io_, std::move(options)) {
    auto bound = endpoint_.start();
    REQUIRE(bound.has_value());
    port = *bound;
    thread_ = std::thread([this] {
      io_.run();
      returned_.set_value();
    });
  }
  ~served_endpoint() {
    if (!thread_.joinable()) return;
    endpoint_.stop();
    if (returned_.get_future().wait_for(10s) != std::future_status::ready) io_.stop();
    thread_.join();
  }
  served_endpoint(const served_endpoint&) = delete;
  served_endpoint& operator=(const served_endpoint&) = delete;

  // stop(), then whether the io_context ran out of work (nothing of the endpoint left behind).
  bool stop_and_drain() {
    endpoint_.stop();
    const bool drained = returned_.get_future().wait_for(10s) == std::future_status::ready;
    if (!drained) io_.stop();
    thread_.join();
    return drained;
  }

  std::uint16_t port = 0;

 private:
  boost::asio::io_context io_;
  m::http_endpoint endpoint_;
  std::promise<void> returned_;
  std::thread thread_;
};

m::http_endpoint_options options_with(std::function<std::string()> metrics = [] {
  return std::string("x_total 1\n");
}) {
  m::http_endpoint_options o;
  o.listen = "127.0.0.1:0";
  o.metrics = std::move(metrics);
  return o;
}

}  // namespace

TEST_CASE("GET /metrics serves the callback's text with the exposition content type") {
  served_endpoint ep(options_with());
  const auto r = get(ep.port, "/metrics");
  CHECK(r.status == 200);
  CHECK(r.header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(r.header("content-length") == "10");
  CHECK(r.header("connection") == "close");
  CHECK(r.body == "x_total 1\n");
  CHECK(get(ep.port, "/metrics?name[]=x_total").status == 200);
  // HTTP/1.0 scrapers are answered too.
  CHECK(round_trip(ep.port, "GET /metrics HTTP/1.0\r\n\r\n").body == "x_total 1\n");
}

TEST_CASE("a scrape renders the registry as it is at that moment") {
  m::registry registry;
  auto& shard = registry.add_shard();
  served_endpoint ep(options_with([&] { return m::render_text(registry.collect()); }));
  shard.add(m::requests_total, {"read", "2.05"});
  auto body = get(ep.port, "/metrics").body;
  CHECK(body.find("\ncoap_gateway_requests_total{procedure=\"read\",code=\"2.05\"} 1\n") !=
        std::string::npos);
  shard.add(m::requests_total, {"read", "2.05"});
  body = get(ep.port, "/metrics").body;
  CHECK(body.find("\ncoap_gateway_requests_total{procedure=\"read\",code=\"2.05\"} 2\n") !=
        std::string::npos);
}

TEST_CASE("/healthz answers while the process runs; /readyz follows the ready callback") {
  std::atomic<bool> ready{false};
  auto options = options_with();
  options.ready = [&] { return ready.load(); };
  served_endpoint ep(std::move(options));
  const auto health = get(ep.port, "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");
  CHECK(get(ep.port, "/readyz").status == 503);
  ready = true;
  CHECK(get(ep.port, "/readyz").status == 200);
  ready = false;
  CHECK(get(ep.port, "/readyz").status == 503);
}

TEST_CASE("/healthz follows the healthy callback, independently of /readyz") {
  std::atomic<bool> healthy{true};
  auto options = options_with();
  options.healthy = [&] { return healthy.load(); };
  options.ready = [] { return true; };
  served_endpoint ep(std::move(options));
  CHECK(get(ep.port, "/healthz").status == 200);
  healthy = false;  // a worker loop stopped turning: the liveness probe must say so
  const auto sick = get(ep.port, "/healthz");
  CHECK(sick.status == 503);
  CHECK(sick.body == "unhealthy\n");
  CHECK(get(ep.port, "/readyz").status == 200);
  healthy = true;
  CHECK(get(ep.port, "/healthz").status == 200);
}

TEST_CASE("without a ready callback the endpoint reports ready") {
  served_endpoint ep(options_with());
  CHECK(get(ep.port, "/readyz").status == 200);
}

TEST_CASE("unknown paths are 404, other methods on known paths 405") {
  served_endpoint ep(options_with());
  CHECK(get(ep.port, "/").status == 404);
  CHECK(get(ep.port, "/metricsx").status == 404);
  const auto post =
      round_trip(ep.port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
  CHECK(post.status == 405);
  CHECK(post.header("allow") == "GET");
  CHECK(round_trip(ep.port, "DELETE /nothing HTTP/1.1\r\nHost: x\r\n\r\n").status == 404);
}

TEST_CASE("bad and oversized requests get an error answer and the endpoint keeps serving") {
  served_endpoint ep(options_with());
  CHECK(round_trip(ep.port, std::string("\x00\x17\xfe not http\r\n\r\n", 16)).status == 400);
  CHECK(round_trip(ep.port, "GET /metrics HTTP/9\r\n\r\n").status == 400);
  CHECK(
      round_trip(ep.port, "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n")
          .status == 431);
  CHECK(round_trip(ep.port, "GET /metrics HTTP/1.1\r\nContent-Length: 100000\r\n\r\n").status ==
        413);
  {
    connection c(ep.port);  // connects and goes away without a byte
  }
  {
    connection c(ep.port);
    c.send("GET /metr");  // half a request, then gone
  }
  CHECK(get(ep.port, "/healthz").status == 200);
}

TEST_CASE("an exception from the metrics callback becomes a 500") {
  served_endpoint ep(options_with([]() -> std::string { throw std::runtime_error("boom"); }));
  CHECK(get(ep.port, "/metrics").status == 500);
  CHECK(get(ep.port, "/healthz").status == 200);
}

TEST_CASE("a client that stalls is dropped after the timeout") {
  auto options = options_with();
  options.timeout = 200ms;
  served_endpoint ep(std::move(options));
  connection c(ep.port);
  c.send("GET /metrics HTTP/1.1\r\n");
  CHECK(c.read_to_end(5s).empty());
}

TEST_CASE("connections beyond max_connections are closed at once") {
  auto options = options_with();
  options.max_connections = 1;
  served_endpoint ep(std::move(options));
  connection held(ep.port);
  held.send("GET /metrics HTTP/1.1\r\n");  // the one session, waiting for the rest
  connection refused(ep.port);
  CHECK(refused.read_to_end(5s).empty());
  held.send("\r\n");
  CHECK(parse(held.read_to_end()).status == 200);
  held.close();
  // The slot frees once the server has seen the close: allow it a bounded moment.
  std::optional<reply> r;
  const auto end = std::chrono::steady_clock::now() + 10s;
  while ((!r || r->closed_without_reply) && std::chrono::steady_clock::now() < end) {
    try {
      r = get(ep.port, "/healthz");
    } catch (const std::runtime_error&) {
      r.reset();  // refused while the slot was still taken: the kernel may answer with a RST
    }
    if (!r || r->closed_without_reply) std::this_thread::sleep_for(5ms);
  }
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("stop() closes the listener and open connections, leaving the io_context no work") {
  served_endpoint ep(options_with());
  connection idle(ep.port);
  CHECK(get(ep.port, "/healthz").status == 200);
  CHECK(ep.stop_and_drain());
  CHECK(idle.read_to_end(5s).empty());
}

TEST_CASE("listen addresses parse as host:port; port 0 binds a free port") {
  auto a = m::parse_listen("127.0.0.1:9100");
  REQUIRE(a.has_value());
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 9100);
  a = m::parse_listen("[::1]:0");
  REQUIRE(a.has_value());
  CHECK(a->host == "::1");
  CHECK(a->port == 0);
  a = m::parse_listen("localhost:80");
  REQUIRE(a.has_value());
  CHECK(a->host == "127.0.0.1");
  for (const char* bad : {"", "9100", "::1:9100", "127.0.0.1:", ":80", "[]:80", "1.2.3.4:65536",
                          "1.2.3.4:-1", "1.2.3.4:80x", "1.2.3.4: 80", "[::1:80"}) {
    INFO(bad);
    CHECK_FALSE(m::parse_listen(bad).has_value());
  }
}

TEST_CASE("start() reports what cannot be bound") {
  boost::asio::io_context io;
  m::http_endpoint_options o;
  o.listen = "example.com:9100";
  CHECK_FALSE(m::http_endpoint(io, o).start().has_value());
  o.listen = "not an address";
  CHECK_FALSE(m::http_endpoint(io, o).start().has_value());

  o.listen = "127.0.0.1:0";
  m::http_endpoint first(io, o);
  const auto port = first.start();
  REQUIRE(port.has_value());
  CHECK(*port != 0);
  o.listen = "127.0.0.1:" + std::to_string(*port);
  CHECK_FALSE(m::http_endpoint(io, o).start().has_value());
}
