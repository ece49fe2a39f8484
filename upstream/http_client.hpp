#pragma once
// The HTTP(S) implementation of client: a keep-alive connection pool to one origin, Beast over
// Asio. One instance per io_context thread (one per gateway worker); not thread-safe.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/result.hpp>

#include "upstream/base_url.hpp"
#include "upstream/client.hpp"

namespace gw::upstream {

struct client_options {
  std::string base_url = "http://127.0.0.1:8080";  // see parse_base_url()
  // Covers the whole request: queue wait, connect, write and read. request::timeout overrides it.
  std::chrono::milliseconds timeout{10000};
  // Covers resolve, TCP connect and TLS handshake of a new connection (within the timeout above).
  std::chrono::milliseconds connect_timeout{5000};
  std::size_t max_connections = 16;  // open at once, idle ones included; 0 is taken as 1
  std::size_t max_queue = 1024;      // requests waiting for a connection; beyond: queue_full
  std::chrono::milliseconds idle_timeout{30000};
  // false: no certificate or host-name check at all (the caller logs that).
  bool verify_peer = true;
  std::string ca_file;    // PEM; when set, trusted instead of the system store
  std::string cert_file;  // PEM chain of a client certificate; needs key_file
  std::string key_file;
  std::string user_agent = "coap-gateway/" GW_VERSION;
};

struct client_stats {
  std::size_t open = 0;  // established connections, idle ones included
  std::size_t idle = 0;
  std::size_t opened_total = 0;
  std::size_t queued = 0;             // requests waiting for a connection now
  std::size_t queue_waits_total = 0;  // requests that ever had to wait
  std::size_t in_flight = 0;          // requests started and not yet completed, queued included
};

class http_client : public client {
 public:
  // Refuses new requests, fails waiting ones and in-flight ones with error::shutting_down (the
  // latter as soon as their pending I/O is aborted) and closes every connection. Idempotent; the
  // destructor calls it. Requests still in flight keep what they need alive until they complete.
  void close() override = 0;
  virtual client_stats stats() const = 0;
};

// Errors: error::bad_url, error::bad_tls_config (https only).
boost::system::result<std::unique_ptr<http_client>> make_http_client(
    boost::asio::any_io_executor executor, client_options options);

}  // namespace gw::upstream
