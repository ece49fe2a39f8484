#pragma once
// One DTLS association (RFC 6347): an SSL object over a BIO that queues whole datagrams in and
// out. Internal to gw_server. A memory BIO would merge a handshake flight into one datagram,
// and OpenSSL 3.0 has no datagram-pair BIO, hence this one (BIO_meth_new).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "gateway/core/clock.hpp"
#include "gateway/core/peer.hpp"
#include "gateway/server/dtls_stats.hpp"

namespace gw::server {

// The BIO's data: what the socket read for this SSL, what the SSL wrote for the socket, and
// who the client is (cookies are keyed by it).
// Vectors, not deques: both hold a datagram or a flight at most and are drained at once, and an
// empty std::deque allocates (about 600 bytes each), which every idle session would pay.
struct datagram_queue {
  std::vector<std::vector<std::uint8_t>> in;
  std::vector<std::vector<std::uint8_t>> out;
  std::vector<std::uint8_t> client;  // address bytes, port, family
  bool v6 = false;
};

// A new BIO over a fresh datagram_queue that it owns; nullptr when out of memory.
BIO* new_datagram_bio();
datagram_queue& queue_of(BIO* bio);
// The client encoding cookies are keyed by.
std::vector<std::uint8_t> client_bytes(const core::peer& p);

class dtls_session {
 public:
  enum class state : std::uint8_t { handshaking, open };

  // Takes ownership of `ssl`, whose BIO is a datagram BIO.
  dtls_session(SSL* ssl, const core::peer& peer, core::time_point now);
  ~dtls_session();
  dtls_session(const dtls_session&) = delete;
  dtls_session& operator=(const dtls_session&) = delete;

  SSL* ssl() const { return ssl_; }

  // Memory of an idle session (docs/performance.md, "DTLS"). SSL_MODE_RELEASE_BUFFERS does not
  // free DTLS's record buffers after a handshake (nor ever the write buffer): an idle session
  // would keep about 33 KiB of them. release_buffers() gives them back (SSL_free_buffers) with
  // our queues' spare capacity; nothing may be in flight (the listener drains both queues
  // first). OpenSSL 3.0 sets the buffers up again only on the read path (dtls1_read_bytes), and
  // SSL_write or SSL_shutdown on released buffers writes through a null pointer: every write
  // goes through writable(), which sets them up again first.
  void release_buffers();
  SSL* writable();
  // For SSL_do_handshake and SSL_read, which set the buffers up themselves.
  SSL* readable();
  bool buffers_released() const { return released_; }
  datagram_queue& queue() { return queue_of(SSL_get_rbio(ssl_)); }
  const core::peer& peer() const { return peer_; }

  state st = state::handshaking;
  core::time_point started;
  core::time_point last_seen;
  handshake_failure failure = handshake_failure::none;
  std::string psk_identity;  // the identity the client used, once known
  std::string identity;      // for the access log: "psk:<identity>" or "cert:<subject>"

 private:
  SSL* ssl_;
  core::peer peer_;
  bool released_ = false;
};

}  // namespace gw::server
