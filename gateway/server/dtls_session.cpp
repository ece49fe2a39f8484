#include "gateway/server/dtls_session.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>

#include <openssl/bio.h>
#include <openssl/err.h>

namespace gw::server {
namespace {

int queue_write(BIO* bio, const char* data, int len) {
  if (len < 0) return -1;
  auto& q = queue_of(bio);
  const auto* p = reinterpret_cast<const std::uint8_t*>(data);
  q.out.emplace_back(p, p + len);  // one write is one datagram
  return len;
}

int queue_read(BIO* bio, char* data, int len) {
  auto& q = queue_of(bio);
  BIO_clear_retry_flags(bio);
  if (q.in.empty()) {
    BIO_set_retry_read(bio);
    return -1;
  }
  auto& d = q.in.front();
  // Datagram semantics: what does not fit the reader's buffer is lost, as with recvfrom.
  const int n = std::min(len, static_cast<int>(d.size()));
  std::memcpy(data, d.data(), static_cast<std::size_t>(n));
  q.in.erase(q.in.begin());
  return n;
}

long queue_ctrl(BIO* bio, int cmd, long, void*) {
  auto& q = queue_of(bio);
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING:
      return q.in.empty() ? 0 : static_cast<long>(q.in.front().size());
    case BIO_CTRL_WPENDING:
      return 0;  // written datagrams leave at once (the listener drains `out`)
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
      return q.v6 ? 48 : 28;  // IP and UDP headers: DTLS_set_link_mtu subtracts them
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
      return 0;  // SSL_OP_NO_QUERY_MTU: the link MTU is set, never queried
    default:
      return 0;
  }
}

int queue_create(BIO* bio) {
  BIO_set_data(bio, new (std::nothrow) datagram_queue);
  if (BIO_get_data(bio) == nullptr) return 0;
  BIO_set_init(bio, 1);
  return 1;
}

int queue_destroy(BIO* bio) {
  if (bio == nullptr) return 0;
  delete static_cast<datagram_queue*>(BIO_get_data(bio));
  BIO_set_data(bio, nullptr);
  return 1;
}

BIO_METHOD* method() {
  // Made once and kept for the process: BIOs of every worker share it (read-only after init).
  static BIO_METHOD* m = [] {
    auto* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "datagram queue");
    BIO_meth_set_write(made, queue_write);
    BIO_meth_set_read(made, queue_read);
    BIO_meth_set_ctrl(made, queue_ctrl);
    BIO_meth_set_create(made, queue_create);
    BIO_meth_set_destroy(made, queue_destroy);
    return made;
  }();
  return m;
}

}  // namespace

BIO* new_datagram_bio() {
  return BIO_new(method());
}

datagram_queue& queue_of(BIO* bio) {
  return *static_cast<datagram_queue*>(BIO_get_data(bio));
}

std::vector<std::uint8_t> client_bytes(const core::peer& p) {
  std::vector<std::uint8_t> out(p.address.begin(), p.address.begin() + (p.v6 ? 16 : 4));
  out.push_back(static_cast<std::uint8_t>(p.port >> 8));
  out.push_back(static_cast<std::uint8_t>(p.port & 0xff));
  out.push_back(p.v6 ? 6 : 4);
  return out;
}

dtls_session::dtls_session(SSL* ssl, const core::peer& peer, core::time_point now)
    : started(now), last_seen(now), ssl_(ssl), peer_(peer) {
  SSL_set_app_data(ssl_, this);
}

void dtls_session::release_buffers() {
  if (released_ || st != state::open) return;
  // 0 while a record is half read or written: then they stay, and the next sweep tries again.
  if (SSL_free_buffers(ssl_) != 1) return;
  released_ = true;
  auto& q = queue();
  q.in.shrink_to_fit();
  q.out.shrink_to_fit();
}

SSL* dtls_session::readable() {
  released_ = false;  // the read path sets the buffers up itself
  return ssl_;
}

SSL* dtls_session::writable() {
  if (released_) {
    // An SSL_read with nothing queued (released_ implies the queue was drained and nothing
    // read since) only sets the buffers up (ssl3_setup_buffers) and reports
    // SSL_ERROR_WANT_READ: it consumes nothing.
    unsigned char none[1];
    SSL_read(ssl_, none, sizeof none);
    ERR_clear_error();
    released_ = false;
  }
  return ssl_;
}

dtls_session::~dtls_session() {
  SSL_free(ssl_);  // frees its BIO and queue
}

const char* to_string(handshake_failure f) {
  switch (f) {
    case handshake_failure::none:
      return "ok";
    case handshake_failure::unknown_identity:
      return "unknown_identity";
    case handshake_failure::certificate:
      return "certificate";
    case handshake_failure::alert:
      return "alert";
    case handshake_failure::protocol:
      return "protocol";
    case handshake_failure::timeout:
      return "timeout";
    case handshake_failure::limit:
      return "limit";
    case handshake_failure::rate:
      return "rate";
  }
  return "protocol";
}

}  // namespace gw::server
