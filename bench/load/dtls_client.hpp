#pragma once
// coap-load's DTLS side: one client SSL_CTX (DTLS 1.2 only, PSK per RFC 4279) and an SSL per
// simulated client over OpenSSL's own datagram BIO on that client's connected, non-blocking
// socket. Each client owns a socket, so the kernel already keeps its datagrams apart: no queue
// of our own is needed (the gateway needs one because its sessions share a socket). The epoll
// loop of load_engine drives the SSLs; OpenSSL reads its own clock for handshake
// retransmissions (DTLSv1_get_timeout / DTLSv1_handle_timeout).
#include <string>

#include <openssl/ssl.h>

#include "bench/load/load_options.hpp"

namespace gw::bench {

class dtls_client_context {
 public:
  // Throws std::runtime_error with OpenSSL's reason (an unknown cipher list, out of memory).
  dtls_client_context(const dtls_psk& psk, const std::string& ciphers);
  ~dtls_client_context();
  dtls_client_context(const dtls_client_context&) = delete;
  dtls_client_context& operator=(const dtls_client_context&) = delete;

  // A client SSL over `fd` (connected, non-blocking; not closed by SSL_free), in connect state
  // with a 1280-byte link MTU as a constrained device would use. Throws when out of memory.
  SSL* new_session(int fd) const;
  const dtls_psk& psk() const { return psk_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  dtls_psk psk_;
};

}  // namespace gw::bench
