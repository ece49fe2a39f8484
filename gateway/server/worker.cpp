#include "gateway/server/worker.hpp"

#include <chrono>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

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
}  // namespace

worker::worker(std::size_t index, const server_options& options, const services_factory& factory)
    : index_(index),
      grace_(options.grace),
      endpoint_(options.endpoint, options.seed + index * 0x9E3779B97F4A7C15ULL, options.observable),
      timer_(io_),
      grace_timer_(io_),
      heartbeat_timer_(io_),
      heartbeat_every_(options.heartbeat),
      services_(factory(io_.get_executor(), index, *this)) {
  if (!services_) throw std::invalid_argument("services_factory returned no services");
  endpoint_.set_wall_clock_offset(wall_clock_offset());
  beat();
}

boost::system::error_code worker::bind(const udp::endpoint& at) {
  boost::system::error_code ec;
  udp::socket socket(io_);
  socket.open(at.protocol(), ec);
  if (ec) return ec;
  if (at.address().is_v6()) socket.set_option(asio::ip::v6_only(true), ec);
  socket.set_option(asio::socket_base::reuse_address(true), ec);
  int one = 1;
  if (::setsockopt(socket.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    return {errno, boost::system::system_category()};
  socket.bind(at, ec);
  if (ec) return ec;
  // Replies are sent with a non-blocking send_to: a full send buffer drops the datagram,
  // as the network itself may; CoAP's retransmission covers both.
  socket.non_blocking(true, ec);
  if (ec) return ec;
  sockets_.push_back(std::move(socket));
  return {};
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
  asio::co_spawn(io_, timer_loop(), asio::detached);
  asio::co_spawn(io_, heartbeat_loop(), asio::detached);
  io_.run();
}

void worker::stop() {
  asio::post(io_, [this] { begin_drain(); });
}

asio::awaitable<void> worker::receive_loop(std::size_t socket) {
  std::vector<std::uint8_t> buffer(max_datagram);
  udp::endpoint from;
  while (!finished_) {
    auto [ec, n] =
        co_await sockets_[socket].async_receive_from(asio::buffer(buffer), from, use_nothrow);
    if (ec == asio::error::operation_aborted || finished_) break;
    if (ec) continue;  // ICMP errors surface here on Linux; nothing to do with them
    endpoint_.on_datagram(to_peer(socket, from), std::span(buffer.data(), n), core::clock::now());
    flush();
  }
}

asio::awaitable<void> worker::timer_loop() {
  while (!finished_) {
    timer_.expires_at(armed_ ? *armed_ : core::time_point::max());
    co_await timer_.async_wait(use_nothrow);
    if (finished_) break;
    auto now = core::clock::now();
    if (armed_ && *armed_ <= now) {
      armed_.reset();
      endpoint_.set_wall_clock_offset(wall_clock_offset());
      endpoint_.on_timer(now);
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

void worker::on_forward(core::forward_action forward) {
  request_context ctx{forward.peer, index_};
  asio::co_spawn(io_, services_->async_handle(std::move(forward.request), ctx),
                 [this, id = forward.id](std::exception_ptr error, coap::message response) {
                   if (error) {
                     try {
                       std::rethrow_exception(error);
                     } catch (const std::exception& e) {
                       GW_LOG(error, "server", std::string("handler failed: ") + e.what());
                     } catch (...) {
                       GW_LOG(error, "server", "handler failed");
                     }
                     response = coap::message{};
                     response.code = coap::codes::internal_server_error;
                     response.set_payload("internal error");
                   }
                   endpoint_.on_response(id, std::move(response), core::clock::now());
                   flush();
                 });
}

void worker::flush() {
  for (auto& send : endpoint_.take_sends()) {
    boost::system::error_code ec;
    sockets_.at(send.peer.socket)
        .send_to(asio::buffer(send.datagram), to_endpoint(send.peer), 0, ec);
    if (ec) ++send_errors_;
  }
  for (auto& forward : endpoint_.take_forwards()) on_forward(std::move(forward));
  for (const auto& event : endpoint_.take_observe_events()) services_->on_observe(event);

  if (auto next = endpoint_.next_deadline(); next && (!armed_ || *next < *armed_)) {
    armed_ = next;
    timer_.cancel();  // the timer loop re-arms at the earlier deadline
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

void worker::notify(const core::resource_key& resource, coap::message content) {
  endpoint_.notify(resource, std::move(content), core::clock::now());
  flush();
}

void worker::notify_final(const core::resource_key& resource, coap::message content) {
  endpoint_.notify_final(resource, std::move(content), core::clock::now());
  flush();
}

server_stats worker::stats() const {
  std::lock_guard lock(stats_mutex_);
  return published_;
}

core::peer worker::to_peer(std::size_t socket, const udp::endpoint& ep) const {
  core::peer p;
  p.socket = static_cast<std::uint16_t>(socket);
  p.port = ep.port();
  if (ep.address().is_v4()) {
    auto b = ep.address().to_v4().to_bytes();
    std::copy(b.begin(), b.end(), p.address.begin());
  } else {
    p.v6 = true;
    auto b = ep.address().to_v6().to_bytes();
    std::copy(b.begin(), b.end(), p.address.begin());
  }
  return p;
}

udp::endpoint worker::to_endpoint(const core::peer& p) {
  if (!p.v6) {
    asio::ip::address_v4::bytes_type b;
    std::copy_n(p.address.begin(), 4, b.begin());
    return {asio::ip::address_v4(b), p.port};
  }
  asio::ip::address_v6::bytes_type b;
  std::copy_n(p.address.begin(), 16, b.begin());
  return {asio::ip::address_v6(b), p.port};
}

}  // namespace gw::server
