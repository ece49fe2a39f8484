#include "gateway/server/worker.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "gateway/server/socket_address.hpp"
#include "log/log.hpp"

namespace gw::server {

namespace asio = boost::asio;
using asio::ip::udp;
namespace {
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_datagram = 65535;

// System time minus steady time: the epoch of Observe numbers (RFC 7641 §4.4), read here
// because the core reads no clock. Taken again on every timer tick, so that a stepped system
// clock is followed; the registry keeps each relation's numbers increasing whatever it does.
core::duration wall_clock_offset() {
  return std::chrono::duration_cast<core::duration>(
      std::chrono::system_clock::now().time_since_epoch() - core::clock::now().time_since_epoch());
}
// Datagrams read (recvmmsg) or sent (sendmmsg) per system call. A full batch yields to the
// answers it started before reading on, so a flood cannot starve them.
constexpr std::size_t batch_size = 32;
// Notifications encoded per sendmmsg when a change fans out.
constexpr std::size_t fan_out_batch = 256;
// The one timer fires at most once per millisecond: deadlines are rounded up to the next whole
// millisecond, so a busy worker (a deadline per request) re-arms its timerfd about once per
// millisecond instead of once per request. CoAP's timers are hundreds of milliseconds and up
// (RFC 7252 §4.8): under 1 ms late changes nothing.
core::time_point coarse(core::time_point t) {
  return std::chrono::ceil<std::chrono::milliseconds>(t);
}

bool set_buffer(int fd, int option, std::size_t bytes) {
  if (bytes == 0) return true;
  int value = static_cast<int>(std::min<std::size_t>(bytes, 0x3fffffff));
  if (::setsockopt(fd, SOL_SOCKET, option, &value, sizeof value) != 0) return false;
  // Linux doubles the value it stores (bookkeeping overhead) and caps the request at
  // net.core.rmem_max / wmem_max: below half of what was asked means it was capped.
  int got = 0;
  socklen_t len = sizeof got;
  if (::getsockopt(fd, SOL_SOCKET, option, &got, &len) != 0) return true;
  return static_cast<std::size_t>(got) >= static_cast<std::size_t>(value);
}

}  // namespace

// Reused for every batch: nothing is allocated per datagram on the receive or send path.
struct worker::io_batch {
  std::vector<std::uint8_t> data = std::vector<std::uint8_t>(batch_size * max_datagram);
  std::array<mmsghdr, batch_size> in{};
  std::array<iovec, batch_size> in_iov{};
  std::array<sockaddr_storage, batch_size> from{};
  // SO_RXQ_OVFL: the socket's drop count rides on a datagram as a 32-bit cmsg.
  std::array<std::array<char, CMSG_SPACE(sizeof(std::uint32_t))>, batch_size> control{};
  std::vector<mmsghdr> out;
  std::vector<iovec> out_iov;
  std::vector<sockaddr_storage> to;
};

worker::worker(std::size_t index, const server_options& options, const services_factory& factory)
    : index_(index),
      grace_(options.grace),
      endpoint_(options.endpoint, options.seed + index * 0x9E3779B97F4A7C15ULL, options.observable,
                options.local_answer),
      timer_(io_),
      batch_(std::make_unique<io_batch>()),
      receive_buffer_(options.socket_receive_buffer),
      send_buffer_(options.socket_send_buffer),
      grace_timer_(io_),
      heartbeat_timer_(io_),
      heartbeat_every_(options.heartbeat),
      services_(factory(io_.get_executor(), index, *this)),
      dtls_options_(options.dtls) {
  if (!services_) throw std::invalid_argument("services_factory returned no services");
  endpoint_.set_wall_clock_offset(wall_clock_offset());
  beat();
}

worker::~worker() = default;

boost::system::error_code worker::bind(const udp::endpoint& at) {
  auto socket = open_socket(at);
  if (!socket) return socket.error();
  kernel_drops_.push_back(0);
  sockets_.push_back(std::move(*socket));
  return {};
}

boost::system::error_code worker::bind_dtls(const udp::endpoint& at) {
  if (!dtls_) {
    try {
      dtls_ = std::make_unique<dtls_listener>(io_, dtls_options_, endpoint_, [this] { flush(); });
    } catch (const std::exception& e) {
      if (index_ == 0) GW_LOG(error, "dtls", e.what());
      return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
    }
  }
  auto socket = open_socket(at);
  if (!socket) return socket.error();
  dtls_->adopt(std::move(*socket));
  return {};
}

udp::endpoint worker::dtls_local_endpoint(std::size_t socket) const {
  return dtls_->local_endpoint(socket);
}

void worker::set_psk(std::shared_ptr<const psk_table> table) {
  asio::post(io_, [this, table = std::move(table)]() mutable {
    if (dtls_) dtls_->set_psk(std::move(table));
    flush();
  });
}

boost::system::result<udp::socket> worker::open_socket(const udp::endpoint& at) {
  boost::system::error_code ec;
  udp::socket socket(io_);
  socket.open(at.protocol(), ec);
  if (ec) return ec;
  if (at.address().is_v6()) socket.set_option(asio::ip::v6_only(true), ec);
  int one = 1;
  const auto share = [&]() -> boost::system::error_code {
    boost::system::error_code ignored;
    socket.set_option(asio::socket_base::reuse_address(true), ignored);
    if (::setsockopt(socket.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
      return boost::system::error_code(errno, boost::system::system_category());
    return {};
  };
  // Port 0 (the kernel picks): asked with SO_REUSEPORT set, Linux may hand out a port that
  // another process's reuseport socket of the same user holds, and the two processes would
  // then split its traffic (seen as notifications lost between test gateways). Asked without,
  // it picks a port nobody holds; the options set after the bind still let the other workers
  // join that port.
  const bool kernel_picks = at.port() == 0;
  if (!kernel_picks) {
    if (auto e = share()) return e;
  }
  socket.bind(at, ec);
  if (ec) return ec;
  if (kernel_picks) {
    if (auto e = share()) return e;
  }
  const int fd = socket.native_handle();
  if (!set_buffer(fd, SO_RCVBUF, receive_buffer_) && index_ == 0)
    GW_LOG(warn, "server",
           "coap.socket_receive_buffer capped by the kernel (sysctl net.core.rmem_max)");
  if (!set_buffer(fd, SO_SNDBUF, send_buffer_) && index_ == 0)
    GW_LOG(warn, "server",
           "coap.socket_send_buffer capped by the kernel (sysctl net.core.wmem_max)");
  // Linux: each datagram then carries the count of datagrams the socket dropped so far.
  ::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  // Replies are sent with a non-blocking send_to: a full send buffer drops the datagram,
  // as the network itself may; CoAP's retransmission covers both.
  socket.non_blocking(true, ec);
  if (ec) return ec;
  return socket;
}

boost::system::error_code worker::probe_free(const udp::endpoint& at) {
  if (at.port() == 0) return {};
  boost::asio::io_context io;
  udp::socket probe(io);
  boost::system::error_code ec;
  probe.open(at.protocol(), ec);
  if (!ec && at.address().is_v6()) probe.set_option(asio::ip::v6_only(true), ec);
  if (!ec) probe.bind(at, ec);
  return ec;
}

udp::endpoint worker::local_endpoint(std::size_t socket) const {
  return sockets_.at(socket).local_endpoint();
}

void worker::run() {
  for (std::size_t i = 0; i < sockets_.size(); ++i)
    asio::co_spawn(io_, receive_loop(i), asio::detached);
  if (dtls_) dtls_->start();
  asio::co_spawn(io_, timer_loop(), asio::detached);
  asio::co_spawn(io_, heartbeat_loop(), asio::detached);
  io_.run();
}

void worker::stop() {
  asio::post(io_, [this] { begin_drain(); });
}

asio::awaitable<void> worker::receive_loop(std::size_t socket) {
  while (!finished_) {
    const int got = receive_batch(socket);
    if (finished_) break;
    if (got == static_cast<int>(batch_size)) {
      // More may be queued: let the answers just started run, then read on.
      co_await asio::post(io_, use_nothrow);
      continue;
    }
    if (got > 0) continue;  // a short batch: read until the socket says EAGAIN
    auto [ec] = co_await sockets_[socket].async_wait(udp::socket::wait_read, use_nothrow);
    if (ec == asio::error::operation_aborted || finished_) break;
  }
}

int worker::receive_batch(std::size_t socket) {
  auto& b = *batch_;
  for (std::size_t i = 0; i < batch_size; ++i) {
    b.in_iov[i] = {b.data.data() + i * max_datagram, max_datagram};
    auto& h = b.in[i].msg_hdr;
    h.msg_name = &b.from[i];
    h.msg_namelen = sizeof b.from[i];
    h.msg_iov = &b.in_iov[i];
    h.msg_iovlen = 1;
    h.msg_control = b.control[i].data();
    h.msg_controllen = b.control[i].size();
    h.msg_flags = 0;
  }
  const int n = ::recvmmsg(sockets_[socket].native_handle(), b.in.data(),
                           static_cast<unsigned>(batch_size), MSG_DONTWAIT, nullptr);
  if (n < 0) {
    // EAGAIN: drained. ICMP errors (ECONNREFUSED...) surface here on Linux; nothing to do with
    // them, and they are cleared once reported.
    return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : 0;
  }
  const auto now = core::clock::now();
  for (int i = 0; i < n; ++i) {
    auto& h = b.in[i].msg_hdr;
    for (auto* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
        std::memcpy(&kernel_drops_[socket], CMSG_DATA(c), sizeof(std::uint32_t));
    }
    endpoint_.on_datagram(peer_from(socket, b.from[i]),
                          std::span(b.data.data() + i * max_datagram, b.in[i].msg_len), now);
  }
  flush();
  return n;
}

asio::awaitable<void> worker::timer_loop() {
  while (!finished_) {
    timer_.expires_at(armed_ ? *armed_ : core::time_point::max());  // re-armed only here
    co_await timer_.async_wait(use_nothrow);
    if (finished_) break;
    auto now = core::clock::now();
    if (armed_ && *armed_ <= now) {
      armed_.reset();
      endpoint_.set_wall_clock_offset(wall_clock_offset());
      endpoint_.on_timer(now);
      if (dtls_) dtls_->on_timer(now);
      flush();
    }
  }
}

asio::awaitable<void> worker::heartbeat_loop() {
  while (!finished_) {
    beat();
    heartbeat_timer_.expires_after(heartbeat_every_);
    co_await heartbeat_timer_.async_wait(use_nothrow);
  }
  heartbeat_ns_.store(0, std::memory_order_relaxed);
}

void worker::beat() {
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  heartbeat_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count(),
                      std::memory_order_relaxed);
}

std::optional<std::chrono::steady_clock::time_point> worker::last_heartbeat() const {
  const auto ns = heartbeat_ns_.load(std::memory_order_relaxed);
  if (ns == 0) return std::nullopt;
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::nanoseconds(ns)));
}

namespace {
coap::message internal_error(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    GW_LOG(error, "server", std::string("handler failed: ") + e.what());
  } catch (...) {
    GW_LOG(error, "server", "handler failed");
  }
  coap::message response;
  response.code = coap::codes::internal_server_error;
  response.set_payload("internal error");
  return response;
}
}  // namespace

void worker::on_forward(core::forward_action forward) {
  request_context ctx{forward.peer, index_, {}};
  if (dtls_ && forward.peer.via == core::transport::dtls)
    ctx.identity = dtls_->identity_of(forward.peer);
  server::worker_services::handling handling;
  try {
    handling = services_->handle(std::move(forward.request), ctx);
  } catch (...) {
    handling = internal_error(std::current_exception());
  }
  if (auto* answer = std::get_if<coap::message>(&handling)) {
    endpoint_.on_response(forward.id, std::move(*answer), core::clock::now(),
                          core::endpoint::answered::in_place);
    return;
  }
  asio::co_spawn(io_, std::move(std::get<1>(handling)),
                 [this, id = forward.id](std::exception_ptr error, coap::message response) {
                   if (error) response = internal_error(error);
                   endpoint_.on_response(id, std::move(response), core::clock::now());
                   schedule_flush();
                 });
}

void worker::schedule_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [this] {
    flush_posted_ = false;
    flush();
  });
}

void worker::send_all(std::vector<core::send_action>& sends) {
  // Non-blocking: a full send buffer drops the datagram, as the network itself may; CoAP's
  // retransmission covers both. Runs of one socket go out in one sendmmsg. coaps datagrams are
  // encrypted through their peer's session; a peer whose session is gone loses them.
  std::erase_if(sends, [this](const core::send_action& s) {
    if (s.peer.via != core::transport::dtls) return false;
    if (!dtls_ || !dtls_->send(s.peer, s.datagram)) ++send_errors_;
    return true;
  });
  auto& b = *batch_;
  b.out.resize(sends.size());
  b.out_iov.resize(sends.size());
  b.to.resize(sends.size());
  for (std::size_t i = 0; i < sends.size(); ++i) {
    b.out_iov[i] = {sends[i].datagram.data(), sends[i].datagram.size()};
    auto& h = b.out[i].msg_hdr;
    h = {};
    h.msg_name = &b.to[i];
    h.msg_namelen = sockaddr_of(sends[i].peer, b.to[i]);
    h.msg_iov = &b.out_iov[i];
    h.msg_iovlen = 1;
  }
  std::size_t i = 0;
  while (i < sends.size()) {
    const auto socket = sends[i].peer.socket;
    std::size_t end = i;
    while (end < sends.size() && sends[end].peer.socket == socket) ++end;
    const int fd = sockets_.at(socket).native_handle();
    while (i < end) {
      const int sent = ::sendmmsg(fd, b.out.data() + i, static_cast<unsigned>(end - i), 0);
      if (sent <= 0) {
        ++send_errors_;  // this datagram is dropped; the rest still get their chance
        ++i;
      } else {
        i += static_cast<std::size_t>(sent);
      }
    }
  }
}

void worker::flush() {
  // Forwards first, so that the answers given at once leave in this flush's sendmmsg.
  for (auto& forward : endpoint_.take_forwards()) on_forward(std::move(forward));
  // A fan-out leaves in batches, each sent before the next is encoded: its first observers
  // are served while the last are still to be encoded.
  for (auto sends = endpoint_.take_sends(fan_out_batch); !sends.empty();
       sends = endpoint_.take_sends(fan_out_batch)) {
    send_all(sends);
  }
  for (const auto& event : endpoint_.take_observe_events()) services_->on_observe(event);

  // Re-armed only when the earliest deadline moves earlier than the armed one.
  auto next = endpoint_.next_deadline();
  if (dtls_) {
    if (auto d = dtls_->next_deadline(); d && (!next || *d < *next)) next = d;
  }
  if (next) {
    const auto at = coarse(*next);
    if (!armed_ || at < *armed_) {
      armed_ = at;
      timer_.cancel();  // the timer loop re-arms at the earlier deadline
    }
  }

  {
    std::lock_guard lock(stats_mutex_);
    published_.endpoint = endpoint_.stats();
    published_.retransmissions = endpoint_.retransmissions();
    published_.dedup_evictions = endpoint_.dedup_evictions();
    published_.send_errors = send_errors_;
    published_.in_flight = endpoint_.in_flight();
    published_.observers = endpoint_.observers();
    auto blocks = endpoint_.blocks();
    published_.block_transfers = blocks.block1_transfers + blocks.block2_stored;
    std::uint64_t drops = 0;
    for (auto d : kernel_drops_) drops += d;
    if (dtls_) drops += dtls_->receive_drops();
    published_.receive_drops = drops;
    if (dtls_) published_.dtls = dtls_->stats();
  }
  if (draining_) maybe_finish();
}

void worker::begin_drain() {
  if (draining_) return;
  draining_ = true;
  endpoint_.set_draining(true);
  grace_timer_.expires_after(grace_);
  grace_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    if (!endpoint_.idle())
      GW_LOG(warn, "server",
             "worker " + std::to_string(index_) + ": grace period over with exchanges still open");
    finished_ = true;
    maybe_finish();
  });
  maybe_finish();
}

void worker::maybe_finish() {
  if (!finished_ && !endpoint_.idle()) return;
  finished_ = true;
  grace_timer_.cancel();
  timer_.cancel();
  heartbeat_timer_.cancel();
  if (dtls_) dtls_->stop();
  for (auto& s : sockets_) {
    boost::system::error_code ignored;
    s.cancel(ignored);
  }
  if (!shut_down_) {
    shut_down_ = true;
    services_->shutdown();
  }
  // run() returns once the io_context runs out of work: the receive and timer loops end now,
  // and handlers still running finish promptly because shutdown() closed the upstream pools.
}

void worker::reconfigure(const core::endpoint_config& config) {
  asio::post(io_, [this, config] {
    endpoint_.set_config(config);
    flush();
  });
}

void worker::snapshot(std::function<void(core::worker_snapshot)> done) {
  asio::post(io_, [this, done = std::move(done)] {
    auto s = endpoint_.snapshot(core::clock::now());
    services_->on_snapshot(s);
    done(std::move(s));
  });
}

void worker::restore(core::worker_snapshot snapshot) {
  asio::post(io_, [this, snapshot = std::move(snapshot)] {
    services_->on_restore(snapshot);
    const auto got = endpoint_.restore(snapshot, sockets_.size(), core::clock::now());
    GW_LOG(info, "server",
           "worker " + std::to_string(index_) + ": restored " + std::to_string(got.observers) +
               " observations and " + std::to_string(got.requests) + " recent writes (dropped " +
               std::to_string(got.observers_dropped) + " and " +
               std::to_string(got.requests_dropped) + ": expired, over the limits or malformed)");
    flush();  // started events resume the long-polls
  });
}

void worker::end_observations(coap::message content) {
  asio::post(io_, [this, content = std::move(content)] {
    endpoint_.end_observations(content, core::clock::now());
    flush();
  });
}

void worker::notify(const core::resource_key& resource, coap::message content) {
  endpoint_.notify(resource, std::move(content), core::clock::now());
  schedule_flush();
}

void worker::notify_final(const core::resource_key& resource, coap::message content) {
  endpoint_.notify_final(resource, std::move(content), core::clock::now());
  schedule_flush();
}

server_stats worker::stats() const {
  std::lock_guard lock(stats_mutex_);
  return published_;
}

}  // namespace gw::server
