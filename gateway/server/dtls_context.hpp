#pragma once
// One worker's DTLS 1.2 configuration: the SSL_CTX (cipher suites, certificates, callbacks),
// the PSK table and the cookie secret. Internal to gw_server; each worker owns one, so the
// callbacks touch no shared state (share-nothing, DESIGN.md "Concurrency").
#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "gateway/server/cookie_jar.hpp"
#include "gateway/server/dtls_stats.hpp"
#include "gateway/server/psk_table.hpp"
#include "gateway/server/udp_server.hpp"

namespace gw::server {

class dtls_context {
 public:
  // Throws std::runtime_error with OpenSSL's reason when a file cannot be used (start-up only).
  dtls_context(const dtls_options& options, dtls_stats& stats);
  ~dtls_context();
  dtls_context(const dtls_context&) = delete;
  dtls_context& operator=(const dtls_context&) = delete;

  SSL_CTX* get() const { return ctx_; }
  // A new server SSL over a fresh datagram BIO, link MTU set; nullptr when out of memory.
  SSL* new_ssl(bool v6) const;
  const psk_table& psk() const { return *psk_; }
  void set_psk(std::shared_ptr<const psk_table> table) { psk_ = std::move(table); }
  cookie_jar& cookies() { return cookies_; }
  dtls_stats& stats() { return stats_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  std::shared_ptr<const psk_table> psk_;
  cookie_jar cookies_;
  dtls_stats& stats_;
  std::size_t link_mtu_;
};

}  // namespace gw::server
