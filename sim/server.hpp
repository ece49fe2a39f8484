#pragma once
// onep-sim as a library: an HTTP/1.1 (optionally TLS-only) server on a caller's io_context that
// serves the One Platform stand-in and the /_sim/ test contract. Beast stays in server.cpp so
// users of this header (coap-gateway --demo, tests) compile without it.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include "sim/state.hpp"
#include "sim/state_loader.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace gw::sim {

struct tls_files {
  std::string cert;  // PEM certificate chain
  std::string key;   // PEM private key
};

struct server_options {
  // After this many responses on one connection the last one says `Connection: close` and the
  // connection is closed, as the One Platform does after 100. 0 means no limit.
  std::size_t max_requests_per_connection = 100;
};

class server {
 public:
  // `host` is an IPv4 or IPv6 literal, brackets optional ("[::1]"); port 0 picks a free port.
  server(boost::asio::io_context& ioc, state st, std::string host, std::uint16_t port,
         std::optional<tls_files> tls = std::nullopt, server_options options = {});
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Loads the TLS files, binds and listens; returns the bound port. The server then runs on the
  // io_context given to the constructor (one or more threads: it serialises on its own strand).
  boost::system::result<std::uint16_t> start();

  // Closes the listener and every connection; waiting long-polls end without an answer.
  // Safe from any thread.
  void stop();

  // "http://127.0.0.1:PORT" or "https://[::1]:PORT"; meaningful after start().
  std::string url() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace gw::sim
