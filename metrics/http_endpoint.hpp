#pragma once
// The scrape and probe endpoint (`metrics.listen`): a small HTTP/1.1 server on an io_context of
// its own thread, never a worker's, so a slow scraper or a flood of probes cannot delay CoAP
// traffic. One request per connection (`Connection: close`).
//
//   GET /metrics  200, text_content_type, the body options.metrics returns
//   GET /healthz  200 "ok" while options.healthy says so (every worker loop turning), else
//                 503 "unhealthy": restart me (a liveness probe), where /readyz is "route
//                 traffic to me"
//   GET /readyz   200 "ready" while options.ready says so, else 503 "not ready"
//   other path    404;  known path with another method: 405 with `Allow: GET`
//   unparsable request 400, headers over 8 KiB 431, a body over 4 KiB 413
//
// A connection gets `timeout` to send its request and take the answer, and at most
// `max_connections` are served at once (more are closed on accept): a stuck or hostile client
// costs a socket for a bounded time, never a thread. Beast stays in http_endpoint.cpp.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace gw::metrics {

struct http_endpoint_options {
  // "host:port" as in metrics.listen: an IPv4 literal, an IPv6 literal in brackets or
  // "localhost"; port 0 picks a free port (start() reports it).
  std::string listen = "127.0.0.1:9100";
  // Called on the endpoint's thread for every GET /metrics; an exception becomes a 500.
  std::function<std::string()> metrics;
  // Called on the endpoint's thread for every GET /readyz; unset means ready.
  std::function<bool()> ready;
  // Called on the endpoint's thread for every GET /healthz; unset means healthy.
  std::function<bool()> healthy;
  std::chrono::milliseconds timeout{5000};
  std::size_t max_connections = 16;
};

struct listen_endpoint {
  std::string host;  // without brackets
  std::uint16_t port = 0;
};

// Splits "host:port" (errc::invalid_argument when it is not one); "localhost" becomes
// 127.0.0.1. Host literals are checked when binding.
boost::system::result<listen_endpoint> parse_listen(std::string_view text);

class http_endpoint {
 public:
  http_endpoint(boost::asio::io_context& io, http_endpoint_options options);
  // Calls stop().
  ~http_endpoint();
  http_endpoint(const http_endpoint&) = delete;
  http_endpoint& operator=(const http_endpoint&) = delete;

  // Binds and listens; returns the bound port. The endpoint then serves on the io_context given
  // to the constructor, from any number of threads (it serialises on a strand of its own).
  boost::system::result<std::uint16_t> start();

  // Closes the listener and every connection; once the io_context has run their completions
  // the endpoint holds no more work, so a run() that only served it returns. Any thread.
  void stop();

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace gw::metrics
