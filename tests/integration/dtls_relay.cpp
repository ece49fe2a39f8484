// dtls-relay: test tooling for running the integration suites over coaps (issue #15).
//
// Python has no DTLS (Debian 12), so the raw-datagram tests talk plain CoAP to this relay, which
// carries each datagram over a DTLS 1.2 PSK session to the gateway's coaps port and back. Every
// distinct plain source address:port gets its own session on its own UDP socket, so the gateway
// sees one coaps peer per test client, as it would see that client speaking coaps itself. One
// datagram is one record both ways (RFC 6347 §4.1.1: a record never spans datagrams), so the
// CoAP layer above sees the same datagrams it would see over plain UDP.
//
//   dtls-relay --connect HOST:PORT --identity ID --key TEXT [--listen HOST:PORT]
//              [--max-sessions N]
//
// Prints "dtls-relay listening on HOST:PORT" once ready; exits on SIGTERM or SIGINT. A session
// that the gateway closes (close_notify, idle timeout, a restart) or whose handshake fails is
// dropped, and the next datagram from that source opens a new one, as a DTLS client would. The
// relay keeps no cookie state: OpenSSL's DTLS client answers HelloVerifyRequest itself.
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

struct options {
  std::string listen = "127.0.0.1:0";
  std::string connect;
  std::string identity;
  std::string key;
  std::size_t max_sessions = 1024;
};

// Datagrams that arrive while the handshake runs wait here; a test client that sends more
// before the session is up loses the oldest, as a lossy link would.
constexpr std::size_t max_pending = 64;
// OpenSSL's client gives up by itself after many retransmissions; this bounds it for the tests.
constexpr auto handshake_limit = std::chrono::seconds(20);

options the_options;

std::chrono::steady_clock::time_point now() {
  return std::chrono::steady_clock::now();
}

bool resolve(const std::string& host_port, sockaddr_storage& out, socklen_t& len) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = host_port.substr(0, colon);
  std::string port = host_port.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || !found) return false;
  std::memcpy(&out, found->ai_addr, found->ai_addrlen);
  len = found->ai_addrlen;
  freeaddrinfo(found);
  return true;
}

std::string to_string(const sockaddr_storage& a) {
  char host[INET6_ADDRSTRLEN] = {};
  unsigned port = 0;
  if (a.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
    port = ntohs(v6.sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
  inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
  port = ntohs(v4.sin_port);
  return std::string(host) + ":" + std::to_string(port);
}

// The session key: family, port and address bytes of a plain source.
std::string source_key(const sockaddr_storage& a, socklen_t len) {
  return std::string(reinterpret_cast<const char*>(&a), len);
}

unsigned int psk_client(SSL*, const char*, char* identity, unsigned int max_identity_len,
                        unsigned char* psk, unsigned int max_psk_len) {
  const auto& o = the_options;
  if (o.identity.size() + 1 > max_identity_len || o.key.size() > max_psk_len) return 0;
  std::memcpy(identity, o.identity.c_str(), o.identity.size() + 1);
  std::memcpy(psk, o.key.data(), o.key.size());
  return static_cast<unsigned int>(o.key.size());
}

struct session {
  sockaddr_storage source{};
  socklen_t source_len = 0;
  int fd = -1;
  SSL* ssl = nullptr;
  bool established = false;
  bool dead = false;
  std::deque<std::vector<unsigned char>> pending;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point last_used;

  session() = default;
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  ~session() {
    if (ssl) {
      // close_notify when the session is up, so the gateway frees it at once (tests that
      // count sessions see the relay's clients leave as a real client's would).
      if (established && !dead) SSL_shutdown(ssl);
      SSL_free(ssl);  // frees the BIO too
    }
    if (fd >= 0) close(fd);
  }
};

class relay {
 public:
  relay(SSL_CTX* ctx, int plain, const sockaddr_storage& gateway, socklen_t gateway_len)
      : ctx_(ctx), plain_(plain), gateway_(gateway), gateway_len_(gateway_len) {}

  int run() {
    sigset_t none;
    sigemptyset(&none);
    std::vector<unsigned char> buf(65536);
    while (!stop_requested) {
      std::vector<pollfd> fds{{plain_, POLLIN, 0}};
      std::vector<session*> by_index{nullptr};
      for (auto& [key, s] : sessions_) {
        fds.push_back({s->fd, POLLIN, 0});
        by_index.push_back(s.get());
      }
      timespec wait{};
      timespec* wait_ptr = next_timeout(wait) ? &wait : nullptr;
      int n = ppoll(fds.data(), fds.size(), wait_ptr, &none);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("dtls-relay: ppoll");
        return 1;
      }
      // Sessions first: on_plain may open or evict sessions, which by_index must not outlive.
      for (std::size_t i = 1; i < fds.size(); ++i)
        if (fds[i].revents & (POLLIN | POLLERR)) drive(*by_index[i], buf);
      std::erase_if(sessions_, [](const auto& kv) { return kv.second->dead; });
      if (fds[0].revents & POLLIN) on_plain(buf);
      for (auto& [key, s] : sessions_) {
        if (s->established || s->dead) continue;
        // A no-op unless the retransmission timer ran out (RFC 6347 §4.2.4).
        if (DTLSv1_handle_timeout(s->ssl) < 0) s->dead = true;
        if (now() - s->started > handshake_limit) {
          std::cerr << "dtls-relay: " << to_string(s->source) << ": handshake timed out\n";
          s->dead = true;
        }
        if (!s->dead) drive(*s, buf);
      }
      std::erase_if(sessions_, [](const auto& kv) { return kv.second->dead; });
    }
    sessions_.clear();  // close_notify to the gateway for every open session
    return 0;
  }

 private:
  // The earliest DTLS retransmission deadline of a handshake in progress, if any.
  bool next_timeout(timespec& out) {
    bool any = false;
    timeval best{};
    for (auto& [key, s] : sessions_) {
      timeval tv{};
      if (s->established || !DTLSv1_get_timeout(s->ssl, &tv)) continue;
      if (!any || tv.tv_sec < best.tv_sec ||
          (tv.tv_sec == best.tv_sec && tv.tv_usec < best.tv_usec))
        best = tv;
      any = true;
    }
    // Even without a pending retransmission, wake once a second for the handshake limit.
    if (!any && std::any_of(sessions_.begin(), sessions_.end(),
                            [](const auto& kv) { return !kv.second->established; })) {
      best = {1, 0};
      any = true;
    }
    out.tv_sec = best.tv_sec;
    out.tv_nsec = best.tv_usec * 1000;
    return any;
  }

  void on_plain(std::vector<unsigned char>& buf) {
    for (;;) {
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      ssize_t n = recvfrom(plain_, buf.data(), buf.size(), MSG_DONTWAIT,
                           reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 0) return;  // EAGAIN: drained
      session* s = find_or_open(from, from_len);
      if (!s) continue;
      s->last_used = now();
      if (s->pending.size() == max_pending) s->pending.pop_front();
      s->pending.emplace_back(buf.begin(), buf.begin() + n);
      drive(*s, buf);
    }
  }

  session* find_or_open(const sockaddr_storage& from, socklen_t from_len) {
    auto key = source_key(from, from_len);
    auto it = sessions_.find(key);
    if (it != sessions_.end() && !it->second->dead) return it->second.get();
    if (it != sessions_.end()) sessions_.erase(it);
    if (sessions_.size() >= the_options.max_sessions) evict_oldest();
    auto s = std::make_unique<session>();
    s->source = from;
    s->source_len = from_len;
    s->started = s->last_used = now();
    s->fd = socket(gateway_.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0 ||
        connect(s->fd, reinterpret_cast<const sockaddr*>(&gateway_), gateway_len_) != 0) {
      std::perror("dtls-relay: socket to the gateway");
      return nullptr;
    }
    BIO* bio = BIO_new_dgram(s->fd, BIO_NOCLOSE);
    BIO_ctrl_set_connected(bio, &gateway_);
    s->ssl = SSL_new(ctx_);
    SSL_set_bio(s->ssl, bio, bio);
    // No path MTU discovery on loopback: one fixed, generous link MTU, so any datagram a test
    // sends (a 1,500-byte request included) goes out as one record, as it would over UDP.
    SSL_set_options(s->ssl, SSL_OP_NO_QUERY_MTU);
    DTLS_set_link_mtu(s->ssl, 16384 + 512);
    SSL_set_connect_state(s->ssl);
    auto* raw = s.get();
    sessions_.emplace(std::move(key), std::move(s));
    std::cerr << "dtls-relay: " << to_string(from) << ": new session\n";
    return raw;
  }

  void evict_oldest() {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
      return a.second->last_used < b.second->last_used;
    });
    if (oldest == sessions_.end()) return;
    std::cerr << "dtls-relay: " << to_string(oldest->second->source) << ": evicted\n";
    sessions_.erase(oldest);
  }

  void fail(session& s, const char* what) {
    unsigned long e = ERR_get_error();
    char reason[256] = "";
    if (e) ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    std::cerr << "dtls-relay: " << to_string(s.source) << ": " << what << " " << reason << "\n";
    s.dead = true;
  }

  void drive(session& s, std::vector<unsigned char>& buf) {
    if (s.dead) return;
    if (!s.established) {
      int r = SSL_do_handshake(s.ssl);
      if (r != 1) {
        int e = SSL_get_error(s.ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) fail(s, "handshake failed");
        return;
      }
      s.established = true;
      std::cerr << "dtls-relay: " << to_string(s.source) << ": established "
                << SSL_get_cipher_name(s.ssl) << "\n";
    }
    while (!s.pending.empty()) {
      auto& d = s.pending.front();
      // An empty datagram has no record form: SSL_write of zero bytes sends nothing.
      if (!d.empty() && SSL_write(s.ssl, d.data(), static_cast<int>(d.size())) <= 0) {
        ERR_clear_error();
        std::cerr << "dtls-relay: " << to_string(s.source) << ": dropped a " << d.size()
                  << "-byte datagram\n";
      }
      s.pending.pop_front();
    }
    for (;;) {
      int n = SSL_read(s.ssl, buf.data(), static_cast<int>(buf.size()));
      if (n > 0) {
        sendto(plain_, buf.data(), static_cast<std::size_t>(n), MSG_DONTWAIT,
               reinterpret_cast<const sockaddr*>(&s.source), s.source_len);
        continue;
      }
      int e = SSL_get_error(s.ssl, n);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
      fail(s, e == SSL_ERROR_ZERO_RETURN ? "closed by the gateway" : "session failed");
      return;
    }
  }

  SSL_CTX* ctx_;
  int plain_;
  sockaddr_storage gateway_;
  socklen_t gateway_len_;
  std::map<std::string, std::unique_ptr<session>> sessions_;
};

void on_signal(int) {
  stop_requested = 1;
}

int usage() {
  std::cerr << "usage: dtls-relay --connect HOST:PORT --identity ID --key TEXT"
               " [--listen HOST:PORT] [--max-sessions N]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  auto& o = the_options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string name = argv[i], value = argv[i + 1];
    if (name == "--listen")
      o.listen = value;
    else if (name == "--connect")
      o.connect = value;
    else if (name == "--identity")
      o.identity = value;
    else if (name == "--key")
      o.key = value;
    else if (name == "--max-sessions")
      o.max_sessions = std::max(1, std::atoi(value.c_str()));
    else
      return usage();
  }
  if (argc % 2 == 0 || o.connect.empty() || o.identity.empty() || o.key.empty()) return usage();

  sockaddr_storage listen_addr{}, gateway{};
  socklen_t listen_len = 0, gateway_len = 0;
  if (!resolve(o.listen, listen_addr, listen_len) || !resolve(o.connect, gateway, gateway_len)) {
    std::cerr << "dtls-relay: addresses must be numeric HOST:PORT\n";
    return 2;
  }

  // SIGTERM and SIGINT are blocked outside ppoll, so a stop is never missed between checks.
  sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGINT);
  sigprocmask(SIG_BLOCK, &stops, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  SSL_CTX* ctx = SSL_CTX_new(DTLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
  // RFC 7252 §9.1.3.1's mandatory suite first; CCM_8 counts as 64-bit security in OpenSSL 3.
  SSL_CTX_set_cipher_list(ctx, "PSK-AES128-CCM8:PSK-AES128-GCM-SHA256:@SECLEVEL=0");
  SSL_CTX_set_psk_client_callback(ctx, psk_client);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

  int plain = socket(listen_addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int size = 4 << 20;  // bursts from the load tests wait here, not in drops
  setsockopt(plain, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (plain < 0 || bind(plain, reinterpret_cast<sockaddr*>(&listen_addr), listen_len) != 0) {
    std::perror("dtls-relay: bind");
    return 1;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  getsockname(plain, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  std::cout << "dtls-relay listening on " << to_string(bound) << std::endl;

  int rc = relay(ctx, plain, gateway, gateway_len).run();
  close(plain);
  SSL_CTX_free(ctx);
  return rc;
}
