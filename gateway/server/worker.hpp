#pragma once
// One share-nothing worker: io_context, sockets, endpoint, one timer, and the services it owns.
// Internal to gw_server.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "gateway/server/dtls_listener.hpp"
#include "gateway/server/udp_server.hpp"

namespace gw::server {

class worker final : public notifier {
 public:
  worker(std::size_t index, const server_options& options, const services_factory& factory);
  ~worker() override;

  boost::system::error_code bind(const boost::asio::ip::udp::endpoint& at);
  // A coaps socket; the first one makes the worker's DTLS listener, which fails (with a log
  // line naming the file) when the certificates or keys cannot be used.
  boost::system::error_code bind_dtls(const boost::asio::ip::udp::endpoint& at);
  boost::asio::ip::udp::endpoint dtls_local_endpoint(std::size_t socket) const;
  void set_psk(std::shared_ptr<const psk_table> table);
  // Fails with address_in_use when another socket holds `at`. SO_REUSEPORT would otherwise let
  // a second gateway on the same port silently take half of the traffic.
  static boost::system::error_code probe_free(const boost::asio::ip::udp::endpoint& at);
  boost::asio::ip::udp::endpoint local_endpoint(std::size_t socket) const;

  // Runs the io_context on the calling thread until the worker has drained.
  void run();
  // Thread-safe: posts the drain to the worker.
  void stop();
  void reconfigure(const core::endpoint_config& config);
  // Thread-safe: `done` gets the worker's snapshot, called on the worker's thread.
  void snapshot(std::function<void(core::worker_snapshot)> done);
  // Thread-safe: posted, so it runs before anything run() starts.
  void restore(core::worker_snapshot snapshot);
  void end_observations(coap::message content);
  server_stats stats() const;
  // When the worker's loop last ran its heartbeat; nullopt once the worker has finished (it can
  // no longer stall). Any thread.
  std::optional<std::chrono::steady_clock::time_point> last_heartbeat() const;

  void notify(const core::resource_key& resource, coap::message content) override;
  void notify_final(const core::resource_key& resource, coap::message content) override;

 private:
  struct io_batch;

  boost::system::result<boost::asio::ip::udp::socket> open_socket(
      const boost::asio::ip::udp::endpoint& at);
  boost::asio::awaitable<void> receive_loop(std::size_t socket);
  // Reads up to one batch of datagrams with recvmmsg and feeds them to the endpoint; the
  // number read, or -1 when the socket had nothing (EAGAIN).
  int receive_batch(std::size_t socket);
  boost::asio::awaitable<void> timer_loop();
  // Liveness: stamps heartbeat_ns_ every `heartbeat` from the worker's own loop, so the stamp
  // ages exactly when that loop stops turning (a blocking call, a busy handler).
  boost::asio::awaitable<void> heartbeat_loop();
  void beat();
  // Answers a forward at once when the services can (services->handle), else starts its
  // coroutine.
  void on_forward(core::forward_action forward);
  // Sends what the endpoint produced (one sendmmsg per socket), starts forwards, re-arms the
  // timer.
  void flush();
  // Answers that complete on this thread while a batch is being handled share one flush.
  void schedule_flush();
  void send_all(std::vector<core::send_action>& sends);
  void begin_drain();
  void maybe_finish();

  // Declared first so that it is destroyed last: the sockets, timers and services below were
  // made on it, and an I/O object that outlives its io_context cancels into freed memory when
  // it goes (ASan: heap-use-after-free). Members are destroyed in reverse order of declaration.
  // Run by this worker's thread alone, and other threads only post to it: no locking in the
  // reactor's I/O (a lock and unlock per socket operation otherwise).
  boost::asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::size_t index_;
  std::chrono::milliseconds grace_;
  std::vector<boost::asio::ip::udp::socket> sockets_;
  core::endpoint endpoint_;
  boost::asio::steady_timer timer_;
  std::optional<core::time_point> armed_;
  std::unique_ptr<io_batch> batch_;          // buffers reused for every recvmmsg and sendmmsg
  std::vector<std::uint32_t> kernel_drops_;  // per socket: SO_RXQ_OVFL's last count
  std::size_t receive_buffer_;
  std::size_t send_buffer_;
  bool flush_posted_ = false;
  boost::asio::steady_timer grace_timer_;
  boost::asio::steady_timer heartbeat_timer_;
  std::chrono::milliseconds heartbeat_every_;
  // steady_clock nanoseconds since its epoch; 0 once finished. Written on the worker thread only.
  std::atomic<std::int64_t> heartbeat_ns_{0};
  // Declared after everything it uses, so destroyed before it: upstream pools and long-polls go
  // before the sockets, the endpoint they notify, and the io_context.
  std::unique_ptr<worker_services> services_;
  dtls_options dtls_options_;
  // After the endpoint it feeds; before services_ would be wrong: forwards outlive nothing here.
  std::unique_ptr<dtls_listener> dtls_;
  bool shut_down_ = false;
  bool draining_ = false;
  bool finished_ = false;
  std::uint64_t send_errors_ = 0;

  mutable std::mutex stats_mutex_;
  server_stats published_;
};

}  // namespace gw::server
