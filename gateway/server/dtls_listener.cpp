#include "gateway/server/dtls_listener.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "gateway/server/dtls_context.hpp"
#include "gateway/server/dtls_session.hpp"
#include "gateway/server/socket_address.hpp"
#include "log/log.hpp"

namespace gw::server {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_datagram = 65535;
constexpr auto sweep_every = std::chrono::seconds(1);

// RFC 6347 §4.1, §4.2.2: a record of content type handshake (22), epoch 0, whose handshake
// message is a ClientHello (1). Anything else from a client without a session is dropped
// unanswered: plain CoAP sent to the coaps port gets nothing (no amplification).
bool is_client_hello(std::span<const std::uint8_t> d) {
  constexpr std::size_t record_header = 13;
  constexpr std::size_t handshake_header = 12;
  if (d.size() < record_header + handshake_header) return false;
  return d[0] == 22 && d[1] == 0xfe && d[3] == 0 && d[4] == 0 && d[record_header] == 1;
}

std::string identity_after_handshake(SSL* ssl, const dtls_session& s) {
  if (const char* psk = SSL_get_psk_identity(ssl); psk != nullptr) return "psk:" + std::string(psk);
  if (X509* cert = SSL_get0_peer_certificate(ssl); cert != nullptr) {
    char subject[256] = {};
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    return "cert:" + std::string(subject);
  }
  return s.psk_identity.empty() ? std::string("anonymous") : "psk:" + s.psk_identity;
}

core::source_limit_options handshake_limits(const dtls_options& o) {
  core::source_limit_options l;
  // Only the buckets: the other resources are the endpoint's to bound.
  l.per_source = core::tier_limits{};
  l.per_address = core::tier_limits{};
  l.per_source.rate = o.handshake_rate_per_source;
  l.per_source.burst = 2.0 * o.handshake_rate_per_source;
  l.per_address.rate = o.handshake_rate;
  l.per_address.burst = 2.0 * o.handshake_rate;
  l.address_tier = o.address_tier;
  l.trusted_proxies = o.trusted_proxies;
  return l;
}

}  // namespace

dtls_listener::dtls_listener(asio::io_context& io, const dtls_options& options,
                             core::endpoint& endpoint, std::function<void()> after_input)
    : io_(io),
      options_(options),
      endpoint_(endpoint),
      after_input_(std::move(after_input)),
      ctx_(std::make_unique<dtls_context>(options, stats_)),
      listen_peer_(BIO_ADDR_new()),
      handshakes_(handshake_limits(options)),
      buffer_(max_datagram) {}

dtls_listener::~dtls_listener() {
  sessions_.clear();
  SSL_free(listening_);
  BIO_ADDR_free(listen_peer_);
}

void dtls_listener::adopt(udp::socket socket) {
  sockets_.push_back(std::move(socket));
  kernel_drops_.push_back(0);
}

std::uint64_t dtls_listener::receive_drops() const {
  std::uint64_t drops = 0;
  for (auto d : kernel_drops_) drops += d;
  return drops;
}

udp::endpoint dtls_listener::local_endpoint(std::size_t socket) const {
  return sockets_.at(socket).local_endpoint();
}

void dtls_listener::start() {
  for (std::size_t i = 0; i < sockets_.size(); ++i)
    asio::co_spawn(io_, receive_loop(i), asio::detached);
}

void dtls_listener::stop() {
  if (stopped_) return;
  stopped_ = true;
  std::vector<core::peer> all;
  for (const auto& [who, s] : sessions_) all.push_back(who);
  for (const auto& who : all) close(who);
  for (auto& s : sockets_) {
    boost::system::error_code ignored;
    s.cancel(ignored);
  }
}

asio::awaitable<void> dtls_listener::receive_loop(std::size_t socket) {
  sockaddr_storage from{};
  // SO_RXQ_OVFL: the socket's drop count rides on a datagram as a 32-bit cmsg.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint32_t))];
  while (!stopped_) {
    iovec iov{buffer_.data(), buffer_.size()};
    msghdr h{};
    h.msg_name = &from;
    h.msg_namelen = sizeof from;
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = control;
    h.msg_controllen = sizeof control;
    const auto n = ::recvmsg(sockets_[socket].native_handle(), &h, MSG_DONTWAIT);
    if (n >= 0) {
      for (auto* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
          std::memcpy(&kernel_drops_[socket], CMSG_DATA(c), sizeof(std::uint32_t));
      }
      on_datagram(peer_from(socket, from, core::transport::dtls),
                  {buffer_.data(), static_cast<std::size_t>(n)}, core::clock::now());
      after_input_();
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) continue;  // ICMP errors: nothing to do
    auto [ec] = co_await sockets_[socket].async_wait(udp::socket::wait_read, use_nothrow);
    if (ec == asio::error::operation_aborted) break;
  }
}

void dtls_listener::on_datagram(const core::peer& from, std::span<const std::uint8_t> data,
                                core::time_point now) {
  auto it = sessions_.find(from);
  // RFC 6347 §4.2.8: a ClientHello at epoch 0 on an open association may be a client that lost
  // its state; only a completed cookie round trip replaces the old session.
  if (it == sessions_.end() ||
      (it->second->st == dtls_session::state::open && is_client_hello(data))) {
    if (!is_client_hello(data)) {
      ++stats_.dropped;
      return;
    }
    on_client_hello(from, data, now);
    return;
  }
  auto& s = *it->second;
  s.queue().in.emplace_back(data.begin(), data.end());
  drive(s, now);
}

void dtls_listener::on_client_hello(const core::peer& from, std::span<const std::uint8_t> data,
                                    core::time_point now) {
  if (listening_ == nullptr) listening_ = ctx_->new_ssl(from.v6);
  if (listening_ == nullptr) return;
  auto& q = queue_of(SSL_get_rbio(listening_));
  q.in.clear();
  q.out.clear();
  q.v6 = from.v6;
  q.client = client_bytes(from);
  q.in.emplace_back(data.begin(), data.end());
  const int verified = DTLSv1_listen(listening_, listen_peer_);
  ERR_clear_error();
  if (verified <= 0) {
    // No cookie or a wrong one: the HelloVerifyRequest (if any) goes out, nothing is kept.
    for (auto& d : q.out) send_raw(from, d);
    q.out.clear();
    q.in.clear();
    return;
  }
  if (sessions_.size() >= options_.max_sessions && !sessions_.contains(from)) {
    ++stats_.handshakes_failed[static_cast<std::size_t>(handshake_failure::limit)];
    SSL_free(listening_);
    listening_ = nullptr;
    return;
  }
  if (!rate_allows(from, now)) {
    ++stats_.handshakes_failed[static_cast<std::size_t>(handshake_failure::rate)];
    SSL_free(listening_);
    listening_ = nullptr;
    return;
  }
  // The cookie came back from `from`: it receives what is sent there. Now state is worth it.
  erase(from);
  auto session = std::make_unique<dtls_session>(listening_, from, now);
  listening_ = nullptr;
  auto& s = *session;
  sessions_.emplace(from, std::move(session));
  handshaking_.insert(from);
  drive(s, now);
}

bool dtls_listener::rate_allows(const core::peer& from, core::time_point now) {
  return !handshakes_.admit(from, now).has_value();
}

void dtls_listener::drive(dtls_session& s, core::time_point now) {
  const core::peer who = s.peer();
  SSL* ssl = s.readable();
  s.last_seen = now;
  const bool handshaking = s.st == dtls_session::state::handshaking;
  if (handshaking) {
    const int r = SSL_do_handshake(ssl);
    if (r == 1) {
      s.st = dtls_session::state::open;
      s.identity = identity_after_handshake(ssl, s);
      handshaking_.erase(who);
      ++stats_.handshakes_ok;
      // RFC 9175 §2.4 / RFC 7252 §11.3: the handshake proved the address.
      endpoint_.mark_verified(who, now);
      GW_LOG(debug, "dtls", who.to_string() + " session open, " + s.identity);
    } else {
      const int err = SSL_get_error(ssl, r);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        handshake_failure why = s.failure;
        if (why == handshake_failure::none) {
          const auto reason = ERR_GET_REASON(ERR_peek_error());
          if (SSL_get_verify_result(ssl) != X509_V_OK ||
              reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE ||
              reason == SSL_R_CERTIFICATE_VERIFY_FAILED)
            why = handshake_failure::certificate;
          else if (reason >= SSL_AD_REASON_OFFSET)
            why = handshake_failure::alert;
          else
            why = handshake_failure::protocol;
        }
        ERR_clear_error();
        send_out(s);  // the alert OpenSSL wrote
        fail(s, why);
        return;
      }
      send_out(s);
      return;
    }
  }
  for (;;) {
    const int n = SSL_read(ssl, buffer_.data(), static_cast<int>(buffer_.size()));
    if (n > 0) {
      endpoint_.on_datagram(who, {buffer_.data(), static_cast<std::size_t>(n)}, now);
      continue;
    }
    const int err = SSL_get_error(ssl, n);
    ERR_clear_error();
    if (err == SSL_ERROR_WANT_READ) break;
    // close_notify (SSL_ERROR_ZERO_RETURN) or a fatal alert: the session ends here.
    if (err == SSL_ERROR_ZERO_RETURN) {
      close(who);
    } else {
      send_out(s);
      erase(who);
    }
    return;
  }
  send_out(s);
  // Most devices say nothing for a while after their handshake: its buffers go now, not at the
  // next sweep. The record layer's and our queues are empty here.
  if (handshaking && s.st == dtls_session::state::open) s.release_buffers();
}

void dtls_listener::fail(dtls_session& s, handshake_failure why) {
  ++stats_.handshakes_failed[static_cast<std::size_t>(why)];
  GW_LOG(debug, "dtls",
         s.peer().to_string() + " handshake failed: " + to_string(why) +
             (s.psk_identity.empty() ? "" : " (identity " + s.psk_identity + ")"));
  erase(s.peer());
}

void dtls_listener::close(const core::peer& who) {
  auto it = sessions_.find(who);
  if (it == sessions_.end()) return;
  if (it->second->st == dtls_session::state::open) {
    SSL_shutdown(it->second->writable());
    ERR_clear_error();
    send_out(*it->second);
  }
  erase(who);
}

void dtls_listener::erase(const core::peer& who) {
  handshaking_.erase(who);
  sessions_.erase(who);
}

void dtls_listener::send_out(dtls_session& s) {
  auto& out = s.queue().out;
  for (auto& d : out) send_raw(s.peer(), d);
  out.clear();
}

void dtls_listener::send_raw(const core::peer& to, std::span<const std::uint8_t> datagram) {
  sockaddr_storage addr{};
  const auto len = sockaddr_of(to, addr);
  // Non-blocking, as the plain sockets: a full send buffer drops the datagram; DTLS
  // retransmits handshake flights and CoAP its CONs.
  ::sendto(sockets_.at(to.socket).native_handle(), datagram.data(), datagram.size(), MSG_DONTWAIT,
           reinterpret_cast<const sockaddr*>(&addr), len);
}

bool dtls_listener::send(const core::peer& to, std::span<const std::uint8_t> datagram) {
  auto it = sessions_.find(to);
  if (it == sessions_.end() || it->second->st != dtls_session::state::open) return false;
  auto& s = *it->second;
  const int n = SSL_write(s.writable(), datagram.data(), static_cast<int>(datagram.size()));
  if (n <= 0) {
    ERR_clear_error();
    return false;
  }
  send_out(s);
  return true;
}

void dtls_listener::on_timer(core::time_point now) {
  // Handshake retransmissions (RFC 6347 §4.2.4) and timeouts; few sessions are handshaking.
  std::vector<core::peer> due;
  for (const auto& who : handshaking_) due.push_back(who);
  for (const auto& who : due) {
    auto it = sessions_.find(who);
    if (it == sessions_.end()) continue;
    auto& s = *it->second;
    if (now - s.started >= options_.handshake_timeout) {
      fail(s, handshake_failure::timeout);
      continue;
    }
    timeval left{};
    if (DTLSv1_get_timeout(s.ssl(), &left) == 1 && left.tv_sec == 0 && left.tv_usec == 0) {
      if (DTLSv1_handle_timeout(s.ssl()) < 0) {
        ERR_clear_error();
        fail(s, handshake_failure::timeout);
        continue;
      }
      send_out(s);
    }
  }
  if (now >= next_sweep_) {
    next_sweep_ = now + sweep_every;
    handshakes_.expire(now);
    std::vector<core::peer> idle;
    for (const auto& [who, s] : sessions_) {
      if (s->st != dtls_session::state::open) continue;
      if (now - s->last_seen >= options_.idle_timeout) {
        idle.push_back(who);
      } else if (now - s->last_seen >= sweep_every) {
        // Quiet for a sweep period: its record buffers go back until it speaks again.
        s->release_buffers();
      }
    }
    for (const auto& who : idle) close(who);
  }
}

std::optional<core::time_point> dtls_listener::next_deadline() const {
  if (sessions_.empty()) return std::nullopt;
  const auto now = core::clock::now();
  std::optional<core::time_point> next;
  auto earliest = [&next](core::time_point t) {
    if (!next || t < *next) next = t;
  };
  if (sessions_.size() > handshaking_.size()) earliest(std::max(next_sweep_, now));
  for (const auto& who : handshaking_) {
    const auto& s = *sessions_.at(who);
    earliest(s.started + options_.handshake_timeout);
    timeval left{};
    if (DTLSv1_get_timeout(s.ssl(), &left) == 1)
      earliest(now + std::chrono::seconds(left.tv_sec) + std::chrono::microseconds(left.tv_usec));
  }
  return next;
}

void dtls_listener::set_psk(std::shared_ptr<const psk_table> table) {
  const auto gone = ctx_->psk().changed_in(*table);
  ctx_->set_psk(std::move(table));
  if (gone.empty()) return;
  std::vector<core::peer> closing;
  for (const auto& [who, s] : sessions_)
    if (!s->psk_identity.empty() &&
        std::find(gone.begin(), gone.end(), s->psk_identity) != gone.end())
      closing.push_back(who);
  for (const auto& who : closing) close(who);
}

std::string dtls_listener::identity_of(const core::peer& who) const {
  auto it = sessions_.find(who);
  return it == sessions_.end() ? std::string() : it->second->identity;
}

dtls_stats dtls_listener::stats() const {
  auto s = stats_;
  s.sessions_open = sessions_.size();
  return s;
}

}  // namespace gw::server
