#include "bench/load/load_engine.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <queue>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench/load/con_backoff.hpp"
#include "bench/load/dtls_client.hpp"
#include "bench/load/pacer.hpp"
#include "gateway/coap/codec.hpp"

namespace gw::bench {
namespace {

// Monotonic nanoseconds: every deadline and every request latency.
using ns = std::int64_t;

ns mono_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * ns{1'000'000'000} + ts.tv_nsec;
}

// CLOCK_REALTIME microseconds: the stamp a write carries and notifications are measured against
// (the only clock writer and observers share when they are different processes).
std::int64_t realtime_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * std::int64_t{1'000'000} + ts.tv_nsec / 1000;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

coap::bytes token_bytes(std::uint32_t t) {
  return {static_cast<std::uint8_t>(t >> 24), static_cast<std::uint8_t>(t >> 16),
          static_cast<std::uint8_t>(t >> 8), static_cast<std::uint8_t>(t)};
}

std::optional<std::uint32_t> token_value(const coap::bytes& b) {
  if (b.size() != 4) return std::nullopt;
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         b[3];
}

// One request in flight (a client has --outstanding of these).
struct exchange {
  enum class state : std::uint8_t { idle, awaiting_ack, awaiting_response };
  state st = state::idle;
  bool registration = false;  // observe mode: the GET with Observe=0
  std::uint16_t mid = 0;
  std::uint32_t token = 0;
  std::uint32_t generation = 0;  // bumped whenever the exchange changes: stale timers ignored
  ns intended = 0;               // latency counts from here (the scheduled time in open loop)
  con_backoff backoff;
  coap::bytes datagram;  // kept for retransmission
};

struct client {
  int fd = -1;
  // DTLS: the client's session; handshaking until `open`, `dead` after a failed handshake or
  // once the server closed it (the client then sends nothing more).
  SSL* ssl = nullptr;
  bool open = false;
  bool dead = false;
  ns handshake_started = 0;
  std::size_t cik = 0;  // index of this client's base request
  std::uint16_t next_mid = 0;
  std::uint32_t next_token = 0;
  std::vector<exchange> slots;
  bool registered = false;  // observe mode
  std::uint32_t observe_token = 0;
  std::optional<std::uint16_t> last_notification_mid;
};

struct timer {
  ns due;
  std::uint32_t client;
  std::uint32_t slot;
  std::uint32_t generation;
  bool operator>(const timer& o) const { return due > o.due; }
};

class engine {
 public:
  explicit engine(const load_options& o);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;
  load_results run();

 private:
  bool is_writer(std::size_t c) const { return write_base_ && c + 1 == clients_.size(); }
  bool in_window(ns t) const { return t >= t_measure_ && t < t_end_; }
  // Registrations are spread evenly over --register-over (the warm-up by default).
  ns register_over() const { return o_.register_over.value_or(o_.warmup).count(); }
  ns registration_due(std::size_t i) const {
    return t_start_ + static_cast<ns>(i) * register_over() / static_cast<ns>(load_clients_);
  }
  void send_new(std::size_t c, std::size_t s, ns intended, ns now, bool registration);
  void transmit(client& cl, const coap::bytes& datagram);
  void send_empty(client& cl, coap::type type, std::uint16_t mid);
  void arm(std::size_t c, std::size_t s, ns due);
  void on_datagram(std::size_t c, std::span<const std::uint8_t> datagram, ns now);
  void on_notification(client& cl, const coap::message& msg, ns now);
  void on_timeout(std::size_t c, std::size_t s, ns now);
  // The exchange ended: `answer` is the response, or nullptr for an RST or a give-up.
  void finish(std::size_t c, std::size_t s, ns now, const coap::message* answer, bool rst);
  void drive(ns now);
  ns next_wake() const;
  void read_socket(std::size_t c);
  // DTLS: every client's handshake, at most --handshake-concurrency at once, before the run.
  void establish_sessions();
  void continue_handshake(std::size_t c, ns now);
  void end_handshake(std::size_t c, ns now, bool ok);
  void drop_client(std::size_t c);

  const load_options& o_;
  load_results r_;
  std::vector<coap::message> bases_;  // the request per CIK
  std::optional<coap::message> write_base_;
  std::vector<client> clients_;  // the writer, if any, is the last
  std::size_t load_clients_ = 0;
  int epoll_ = -1;
  int timerfd_ = -1;
  ns armed_ = -1;
  std::priority_queue<timer, std::vector<timer>, std::greater<>> timers_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  std::optional<pacer> pacer_;
  ns next_open_ = 0;
  std::size_t round_robin_ = 0;
  std::size_t next_registration_ = 0;
  ns next_write_ = 0;
  ns t_start_ = 0, t_measure_ = 0, t_end_ = 0, t_stop_ = 0;
  std::int64_t measure_start_us_ = 0;
  std::optional<dtls_client_context> dtls_;
  std::vector<std::uint32_t> handshaking_;  // clients whose handshake is in progress
  int marks_printed_ = 0;                   // --marks: 1 after the start, 2 after the end
};

engine::engine(const load_options& o) : o_(o), rng_(o.seed) {
  const std::size_t n = std::max<std::size_t>(1, o.ciks.size());
  for (std::size_t k = 0; k < n; ++k) {
    auto m = make_request(o.request, o.ciks.empty() ? std::string_view{} : o.ciks[k]);
    if (o.content_format) m.add_uint_option(coap::opt::content_format, *o.content_format);
    m.set_payload(o.payload);
    bases_.push_back(std::move(m));
  }
  if (o.write) write_base_ = make_request(*o.write, o.ciks.empty() ? "" : o.ciks.front());

  load_clients_ = o.clients;
  const std::size_t sockets = o.clients + (write_base_ ? 1 : 0);
  if (raise_open_file_limit() < sockets + 16)
    throw std::runtime_error("the open-file limit is below " + std::to_string(sockets + 16) +
                             " (one socket per client): raise the hard limit (ulimit -Hn)");
  if (o.dtls) dtls_.emplace(*o.dtls, o.dtls_ciphers);
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) fail("epoll_create1");
  timerfd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timerfd_ < 0) fail("timerfd_create");
  epoll_event tev{};
  tev.events = EPOLLIN;
  tev.data.u64 = UINT64_MAX;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, timerfd_, &tev) < 0) fail("epoll_ctl");

  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_addr.s_addr = htonl(o.target_address);
  target.sin_port = htons(o.target_port);
  clients_.resize(sockets);
  for (std::size_t i = 0; i < sockets; ++i) {
    auto& cl = clients_[i];
    cl.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (cl.fd < 0) fail("socket (client " + std::to_string(i) + ")");
    if (!o.sources.empty()) {
      sockaddr_in src{};
      src.sin_family = AF_INET;
      src.sin_addr.s_addr = htonl(o.sources[i % o.sources.size()]);
      if (::bind(cl.fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) < 0)
        fail("bind (client " + std::to_string(i) + "; out of ports? use more --sources)");
    }
    // Connected: the kernel keeps only the target's datagrams and reports ICMP errors.
    if (::connect(cl.fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) < 0)
      fail("connect (client " + std::to_string(i) + ")");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, cl.fd, &ev) < 0) fail("epoll_ctl");
    cl.cik = i % bases_.size();
    cl.next_mid = static_cast<std::uint16_t>(rng_());
    cl.next_token = static_cast<std::uint32_t>(rng_());
    cl.slots.resize(is_writer(i) || o.observe ? 1 : o.outstanding);
  }
}

engine::~engine() {
  for (auto& cl : clients_) {
    if (cl.ssl != nullptr) {
      // close_notify (RFC 5246 §7.2.1): the server frees the session now, not at its idle
      // timeout.
      if (cl.open && !cl.dead) SSL_shutdown(cl.ssl);
      SSL_free(cl.ssl);
    }
    if (cl.fd >= 0) ::close(cl.fd);
  }
  ERR_clear_error();
  if (timerfd_ >= 0) ::close(timerfd_);
  if (epoll_ >= 0) ::close(epoll_);
}

void engine::transmit(client& cl, const coap::bytes& datagram) {
  if (cl.ssl != nullptr) {
    // One SSL_write is one record in one datagram (RFC 6347 §4.1.1).
    if (cl.dead || SSL_write(cl.ssl, datagram.data(), static_cast<int>(datagram.size())) <= 0) {
      ERR_clear_error();
      ++r_.send_errors;
    }
    return;
  }
  if (::send(cl.fd, datagram.data(), datagram.size(), 0) < 0) ++r_.send_errors;
}

void engine::send_empty(client& cl, coap::type type, std::uint16_t mid) {
  coap::message m;
  m.type = type;
  m.mid = mid;
  transmit(cl, coap::encode(m));
}

void engine::arm(std::size_t c, std::size_t s, ns due) {
  timers_.push({due, static_cast<std::uint32_t>(c), static_cast<std::uint32_t>(s),
                clients_[c].slots[s].generation});
}

void engine::send_new(std::size_t c, std::size_t s, ns intended, ns now, bool registration) {
  auto& cl = clients_[c];
  auto& ex = cl.slots[s];
  if (cl.dead) return;  // its handshake failed or the server closed it: it sends nothing
  const bool writer = is_writer(c);
  coap::message m = writer ? *write_base_ : bases_[cl.cik];
  m.type = o_.non ? coap::type::non : coap::type::con;
  m.mid = cl.next_mid++;
  ex.token = cl.next_token++;
  m.token = token_bytes(ex.token);
  // RFC 7641 §3.1: Observe=0 registers; zero-length value, the uint 0.
  if (registration) m.add_uint_option(coap::opt::observe, 0);
  if (writer) m.set_payload(std::to_string(realtime_us()));
  ex.registration = registration;
  ex.mid = m.mid;
  ex.intended = intended;
  ex.datagram = coap::encode(m);
  ex.st = o_.non ? exchange::state::awaiting_response : exchange::state::awaiting_ack;
  ++ex.generation;
  transmit(cl, ex.datagram);
  if (writer) {
    if (in_window(intended)) ++r_.writes;  // not those of the warm-up (--register-over)
  } else if (!registration && in_window(intended)) {
    ++r_.sent;
  }
  if (!o_.non && o_.retransmit) {
    ex.backoff = con_backoff::start(o_.ack_timeout, o_.ack_random_factor, uniform_(rng_));
    arm(c, s, now + ex.backoff.timeout.count());
  } else {
    arm(c, s, now + o_.timeout.count());
  }
}

void engine::finish(std::size_t c, std::size_t s, ns now, const coap::message* answer, bool rst) {
  auto& cl = clients_[c];
  auto& ex = cl.slots[s];
  ex.st = exchange::state::idle;
  ++ex.generation;
  const std::string code = answer ? answer->code.to_string() : (rst ? "RST" : "timeout");
  if (is_writer(c)) {
    if (!in_window(ex.intended)) return;  // a warm-up write (--register-over)
    if (answer) ++r_.writes_answered;
    ++r_.write_codes[code];
    return;
  }
  if (ex.registration) {
    ++r_.registration_codes[code];
    if (answer && answer->code.is_success() && answer->has(coap::opt::observe)) {
      cl.registered = true;
      cl.observe_token = ex.token;
      ++r_.registered;
    } else {
      ++r_.registration_failed;
    }
    return;
  }
  if (answer && now >= t_measure_ && now < t_end_) ++r_.answered_in_window;
  if (in_window(ex.intended)) {
    if (answer || rst) {
      ++r_.answered;
      r_.latency.record(static_cast<std::uint64_t>(std::max<ns>(0, now - ex.intended)));
      ++r_.codes[code];
      if (rst) ++r_.rst;
    } else {
      ++r_.timeouts;
    }
  }
  // Closed loop: the client sends its next request as soon as this one is over.
  if (!pacer_ && !o_.observe && now < t_end_) send_new(c, s, now, now, false);
}

void engine::on_timeout(std::size_t c, std::size_t s, ns now) {
  auto& ex = clients_[c].slots[s];
  if (ex.st == exchange::state::awaiting_ack && !o_.non && o_.retransmit &&
      ex.backoff.on_timeout(o_.max_retransmit)) {
    transmit(clients_[c], ex.datagram);
    if (in_window(ex.intended) && !ex.registration && !is_writer(c)) ++r_.retransmissions;
    arm(c, s, now + ex.backoff.timeout.count());
    return;
  }
  finish(c, s, now, nullptr, false);
}

void engine::on_notification(client& cl, const coap::message& msg, ns now) {
  // RFC 7641 §3.2: a notification without Observe, or with an error code, ends the relation.
  if (!msg.code.is_success() || !msg.has(coap::opt::observe)) {
    cl.registered = false;
    ++r_.relations_ended;
    return;
  }
  // A CON notification sent again because our ACK was lost (RFC 7252 §4.5): ACKed, not counted.
  if (cl.last_notification_mid == msg.mid) {
    ++r_.duplicate_notifications;
    return;
  }
  cl.last_notification_mid = msg.mid;
  std::int64_t stamp = 0;
  const auto text = msg.payload_text();
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), stamp);
  if (ec != std::errc{} || end != text.data() + text.size() || stamp < measure_start_us_ ||
      now >= t_stop_) {
    ++r_.stale_notifications;
    return;
  }
  ++r_.notifications;
  const auto latency_us = std::max<std::int64_t>(0, realtime_us() - stamp);
  r_.notification_latency.record(static_cast<std::uint64_t>(latency_us) * 1000);
}

void engine::on_datagram(std::size_t c, std::span<const std::uint8_t> datagram, ns now) {
  auto& cl = clients_[c];
  auto msg = coap::decode(datagram);
  if (!msg) {
    ++r_.unmatched;
    return;
  }
  const auto find = [&](auto pred) -> std::optional<std::size_t> {
    for (std::size_t s = 0; s < cl.slots.size(); ++s)
      if (cl.slots[s].st != exchange::state::idle && pred(cl.slots[s])) return s;
    return std::nullopt;
  };
  if (msg->type == coap::type::ack || msg->type == coap::type::rst) {
    const auto s = find([&](const exchange& ex) { return ex.mid == msg->mid; });
    if (!s) {
      ++r_.unmatched;  // a late ACK of a retransmission, or of an exchange given up
      return;
    }
    auto& ex = cl.slots[*s];
    if (msg->type == coap::type::rst) {
      finish(c, *s, now, nullptr, true);
    } else if (msg->code.is_empty()) {
      // RFC 7252 §5.2.2: the response follows separately; stop retransmitting, await it.
      if (ex.st == exchange::state::awaiting_ack) {
        ex.st = exchange::state::awaiting_response;
        ++ex.generation;
        arm(c, *s, now + o_.timeout.count());
        if (in_window(ex.intended)) ++r_.separate;
      }
    } else if (token_value(msg->token) == ex.token) {
      finish(c, *s, now, &*msg, false);
    } else {
      ++r_.unmatched;
    }
    return;
  }
  if (!msg->code.is_response()) {
    // A request or a ping to a client: RST for a CON (RFC 7252 §4.2), silence for a NON.
    if (msg->type == coap::type::con) send_empty(cl, coap::type::rst, msg->mid);
    ++r_.unmatched;
    return;
  }
  const auto token = token_value(msg->token);
  const auto s = find([&](const exchange& ex) { return token == ex.token; });
  if (s) {
    if (msg->type == coap::type::con) send_empty(cl, coap::type::ack, msg->mid);
    finish(c, *s, now, &*msg, false);
    return;
  }
  if (cl.registered && token == cl.observe_token) {
    if (msg->type == coap::type::con) send_empty(cl, coap::type::ack, msg->mid);
    on_notification(cl, *msg, now);
    return;
  }
  // RFC 7641 §3.5: an unwanted CON notification is rejected with RST.
  if (msg->type == coap::type::con) send_empty(cl, coap::type::rst, msg->mid);
  ++r_.unmatched;
}

void engine::read_socket(std::size_t c) {
  std::uint8_t buf[65536];
  auto& cl = clients_[c];
  if (cl.ssl != nullptr) {
    if (cl.dead) return;
    if (!cl.open) {
      continue_handshake(c, mono_now());
      if (!cl.open) return;
    }
    for (;;) {
      const int n = SSL_read(cl.ssl, buf, sizeof buf);
      if (n > 0) {
        on_datagram(c, std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n)), mono_now());
        continue;
      }
      const int err = SSL_get_error(cl.ssl, n);
      ERR_clear_error();
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
      // close_notify, a fatal alert or a socket error: the session is over.
      ++r_.sessions_lost;
      drop_client(c);
      return;
    }
  }
  // One datagram per readiness: the epoll set is level-triggered, so a socket with more queued
  // is reported again. Reading on until EAGAIN cost a second recv for nearly every datagram
  // (a client rarely has two queued), a third of this program's system calls under P4.
  const auto n = ::recv(clients_[c].fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      ++r_.send_errors;  // ECONNREFUSED: an ICMP error for an earlier datagram
    return;
  }
  on_datagram(c, std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n)), mono_now());
}

// Sends whatever the schedule says is due at `now`, and fires due timers.
void engine::drive(ns now) {
  while (!timers_.empty() && timers_.top().due <= now) {
    const auto t = timers_.top();
    timers_.pop();
    const auto& ex = clients_[t.client].slots[t.slot];
    if (ex.generation == t.generation && ex.st != exchange::state::idle)
      on_timeout(t.client, t.slot, now);
  }
  if (pacer_) {
    while (next_open_ <= now && next_open_ < t_end_) {
      const std::size_t c = round_robin_++ % load_clients_;
      auto& slots = clients_[c].slots;
      std::size_t s = 0;
      while (s < slots.size() && slots[s].st != exchange::state::idle) ++s;
      if (s == slots.size()) {
        if (in_window(next_open_)) ++r_.skipped;
      } else {
        send_new(c, s, next_open_, now, false);
      }
      next_open_ = t_start_ + pacer_->next().count();
    }
  }
  if (o_.observe) {
    // Registrations are spread evenly (register_over()) rather than sent in one burst.
    while (next_registration_ < load_clients_ && registration_due(next_registration_) <= now) {
      send_new(next_registration_++, 0, now, now, true);
    }
  }
  if (write_base_) {
    while (next_write_ <= now && next_write_ < t_end_) {
      const std::size_t w = clients_.size() - 1;
      if (clients_[w].slots[0].st == exchange::state::idle) send_new(w, 0, next_write_, now, false);
      next_write_ += o_.write_interval.count();
    }
  }
}

ns engine::next_wake() const {
  ns wake = t_stop_;
  if (o_.marks && marks_printed_ < 2)
    wake = std::min(wake, marks_printed_ == 0 ? t_measure_ : t_end_);
  if (!timers_.empty()) wake = std::min(wake, timers_.top().due);
  if (pacer_ && next_open_ < t_end_) wake = std::min(wake, next_open_);
  if (o_.observe && next_registration_ < load_clients_)
    wake = std::min(wake, registration_due(next_registration_));
  if (write_base_ && next_write_ < t_end_) wake = std::min(wake, next_write_);
  return wake;
}

void engine::drop_client(std::size_t c) {
  auto& cl = clients_[c];
  cl.dead = true;
  ::epoll_ctl(epoll_, EPOLL_CTL_DEL, cl.fd, nullptr);
  for (auto& ex : cl.slots) {
    ex.st = exchange::state::idle;
    ++ex.generation;
  }
}

void engine::end_handshake(std::size_t c, ns now, bool ok) {
  auto& cl = clients_[c];
  if (ok) {
    cl.open = true;
    ++r_.handshakes_ok;
    r_.handshake_latency.record(static_cast<std::uint64_t>(now - cl.handshake_started));
  } else {
    ++r_.handshakes_failed;
    drop_client(c);
  }
  std::erase(handshaking_, static_cast<std::uint32_t>(c));
}

void engine::continue_handshake(std::size_t c, ns now) {
  auto& cl = clients_[c];
  const int r = SSL_do_handshake(cl.ssl);
  if (r == 1) {
    end_handshake(c, now, true);
    return;
  }
  const int err = SSL_get_error(cl.ssl, r);
  ERR_clear_error();
  if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) end_handshake(c, now, false);
}

void engine::establish_sessions() {
  const ns began = mono_now();
  const std::size_t n = clients_.size();
  std::size_t next = 0;
  std::vector<epoll_event> events(1024);
  while (next < n || !handshaking_.empty()) {
    ns now = mono_now();
    while (next < n && handshaking_.size() < o_.handshake_concurrency) {
      auto& cl = clients_[next];
      cl.ssl = dtls_->new_session(cl.fd);
      cl.handshake_started = now;
      handshaking_.push_back(static_cast<std::uint32_t>(next));
      continue_handshake(next++, now);  // the ClientHello
    }
    // RFC 6347 §4.2.4: flights are retransmitted on OpenSSL's timer (1 s, doubling).
    const auto in_progress = handshaking_;
    for (const auto c : in_progress) {
      auto& cl = clients_[c];
      if (now - cl.handshake_started >= o_.handshake_timeout.count()) {
        end_handshake(c, now, false);
        continue;
      }
      timeval left{};
      if (DTLSv1_get_timeout(cl.ssl, &left) == 1 && left.tv_sec == 0 && left.tv_usec == 0 &&
          DTLSv1_handle_timeout(cl.ssl) < 0) {
        ERR_clear_error();
        end_handshake(c, now, false);
      }
    }
    // A short poll: OpenSSL's timers are not on our timerfd, and few handshakes are pending.
    const int k = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 10);
    if (k < 0) {
      if (errno == EINTR) continue;
      fail("epoll_wait");
    }
    now = mono_now();
    for (int i = 0; i < k; ++i) {
      const auto c = static_cast<std::size_t>(events[i].data.u64);
      if (c == UINT64_MAX) continue;
      auto& cl = clients_[c];
      if (cl.ssl == nullptr || cl.dead) continue;
      if (!cl.open) {
        continue_handshake(c, now);
      } else {
        read_socket(c);  // a stray record after our Finished: nothing is in flight yet
      }
    }
  }
  r_.handshake_s = static_cast<double>(mono_now() - began) / 1e9;
  // For scripts that measure the server while the sessions are held (bench/dtls.py).
  std::fprintf(stderr, "coap-load: %llu DTLS sessions established (%llu failed) in %.2f s\n",
               static_cast<unsigned long long>(r_.handshakes_ok),
               static_cast<unsigned long long>(r_.handshakes_failed), r_.handshake_s);
  std::fflush(stderr);
}

load_results engine::run() {
  if (dtls_) establish_sessions();
  t_start_ = mono_now();
  t_measure_ = t_start_ + o_.warmup.count();
  t_end_ = t_measure_ + o_.duration.count();
  t_stop_ = t_end_ + o_.drain.count();
  measure_start_us_ = realtime_us() + o_.warmup.count() / 1000;
  next_write_ = std::min(t_measure_, t_start_ + register_over() + o_.write_interval.count());
  if (o_.rate) {
    pacer_.emplace(*o_.rate, o_.poisson, o_.seed);
    next_open_ = t_start_ + pacer_->next().count();
  } else if (!o_.observe && !o_.idle) {
    for (std::size_t c = 0; c < load_clients_; ++c)
      for (std::size_t s = 0; s < clients_[c].slots.size(); ++s)
        send_new(c, s, t_start_, t_start_, false);
  }
  std::vector<epoll_event> events(1024);
  for (;;) {
    ns now = mono_now();
    if (now >= t_stop_) break;
    if (o_.marks && marks_printed_ < 2 && now >= (marks_printed_ == 0 ? t_measure_ : t_end_)) {
      std::fprintf(stderr, "coap-load: window %s\n", marks_printed_++ == 0 ? "starts" : "ends");
      std::fflush(stderr);
      continue;
    }
    drive(now);
    const ns wake = next_wake();
    now = mono_now();
    int wait_ms = 0;
    if (wake > now) {
      wait_ms = -1;
      if (wake != armed_) {
        itimerspec its{};
        its.it_value.tv_sec = wake / 1'000'000'000;
        its.it_value.tv_nsec = wake % 1'000'000'000;
        if (::timerfd_settime(timerfd_, TFD_TIMER_ABSTIME, &its, nullptr) < 0)
          fail("timerfd_settime");
        armed_ = wake;
      }
    }
    const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == UINT64_MAX) {
        std::uint64_t expirations = 0;
        if (::read(timerfd_, &expirations, sizeof expirations) < 0) { /* not expired: spurious */
        }
        armed_ = -1;
      } else {
        read_socket(static_cast<std::size_t>(events[i].data.u64));
      }
    }
  }
  for (std::size_t c = 0; c < load_clients_; ++c)
    for (const auto& ex : clients_[c].slots)
      if (ex.st != exchange::state::idle && !ex.registration && in_window(ex.intended))
        ++r_.unfinished;
  r_.measured_s = static_cast<double>(o_.duration.count()) / 1e9;
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  r_.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
             static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return std::move(r_);
}

}  // namespace

std::uint64_t raise_open_file_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) < 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) < 0) ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

load_results run_load(const load_options& opts) {
  engine e(opts);
  return e.run();
}

}  // namespace gw::bench
