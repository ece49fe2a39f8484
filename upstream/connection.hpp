#pragma once
// One HTTP/1.1 connection to the origin, plain TCP or TLS. Beast stays in connection.cpp.
#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include "upstream/base_url.hpp"
#include "upstream/client.hpp"

namespace boost::asio::ssl {
class context;
}

namespace gw::upstream {

using clock = std::chrono::steady_clock;

// A response is read with at most this much body; a larger one is error::protocol_error.
inline constexpr std::size_t max_body_size = 64 * 1024 * 1024;

// Whether req can go on the wire as written: the method a token, the target empty or an
// origin-form path of visible ASCII, header names tokens and values free of CR, LF and NUL
// (RFC 9110 §5.5, §5.6.2; RFC 9112 §3.2). Anything else is error::bad_request.
boost::system::error_code check_request(const request& req);

class connection {
 public:
  // tls is null for http. verify_host: check the certificate against origin.host (RFC 6125).
  connection(boost::asio::any_io_executor executor, const base_url& origin,
             boost::asio::ssl::context* tls, bool verify_host);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // TCP connect to the first endpoint that accepts, then the TLS handshake with SNI. Errors:
  // connect_failed, tls_failed, timed_out (deadline), shutting_down (close() was called).
  boost::asio::awaitable<boost::system::error_code> async_connect(
      std::vector<boost::asio::ip::tcp::endpoint> endpoints, clock::time_point deadline);

  // Writes the request (target prefixed with origin.prefix) and reads the final response. Errors:
  // timed_out, protocol_error, connection_closed, tls_failed (an alert, e.g. a client
  // certificate refused after a TLS 1.3 handshake), shutting_down. After any error the
  // connection is closed.
  boost::asio::awaitable<result> async_exchange(const request& req, std::string_view user_agent,
                                                clock::time_point deadline);

  // True once async_connect succeeded, even after a later failure or close(): the pool counts
  // the connection as open until it drops the object.
  bool connected() const;
  // After async_exchange: whether both sides left the connection open for another request.
  bool reusable() const;
  // After a failed async_exchange: whether any byte of an answer had arrived.
  bool answer_started() const;
  // Non-blocking look at an idle connection: true when the peer has closed it or sent bytes
  // nobody asked for, so it must not carry another request.
  bool peer_closed();

  // Aborts pending operations (they complete with shutting_down) and closes the socket.
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace gw::upstream
