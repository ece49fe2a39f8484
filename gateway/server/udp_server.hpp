#pragma once
// The Asio shell around gateway/core: `workers` threads, each with its own io_context, its own
// SO_REUSEPORT socket per listen address, its own endpoint and its one timer (share-nothing,
// DESIGN.md "Concurrency"). Requests the endpoint forwards run as coroutines on the worker.
// Asio stays out of this header so the rest of the tree compiles fast.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include "gateway/coap/message.hpp"
#include "gateway/core/endpoint.hpp"
#include "gateway/core/peer.hpp"
#include "gateway/core/resource_key.hpp"
#include "gateway/server/dtls_stats.hpp"
#include "gateway/server/psk_table.hpp"

namespace gw::server {

struct request_context {
  core::peer peer;
  std::size_t worker = 0;
  // coaps only: who the handshake authenticated, "psk:<identity>" or "cert:<subject>".
  std::string identity;
};

// How a worker's services reach back into its endpoint, on the worker's thread only: new
// representations of observed resources (RFC 7641) become notifications.
class notifier {
 public:
  virtual ~notifier() = default;
  virtual void notify(const core::resource_key& resource, coap::message content) = 0;
  virtual void notify_final(const core::resource_key& resource, coap::message content) = 0;
};

// What each worker needs beyond sockets (upstream pools, the dispatcher, long-polls): built on
// that worker's executor, used on the worker thread only, and owned by the worker, which
// destroys it before its io_context on every path (a failed bind included), so timers and
// sockets inside never outlive the context they were made on.
class worker_services {
 public:
  virtual ~worker_services() = default;
  // Answers one request. Runs on the worker's executor; must not throw for bad input (an
  // exception becomes 5.00 and a log line, as a programming error).
  virtual boost::asio::awaitable<coap::message> async_handle(coap::message request,
                                                             request_context ctx) = 0;
  // The answer at once, when the request needs no I/O (discovery, errors found locally): the
  // worker then starts no coroutine, and the answer leaves with the batch that brought the
  // request. Otherwise the coroutine that answers it, which the worker runs. Same contract as
  // async_handle, which the default returns.
  using handling = std::variant<coap::message, boost::asio::awaitable<coap::message>>;
  virtual handling handle(coap::message request, const request_context& ctx) {
    return async_handle(std::move(request), ctx);
  }
  // A resource gained its first observer or lost its last one.
  virtual void on_observe(const core::observe_event&) {}
  // A restart (gateway/core/state_snapshot.hpp), on the worker thread: add what the services
  // hold to the endpoint's snapshot (the last point each resource's long-poll delivered), and
  // take it back before the endpoint restores its relations (so polls resume from it).
  virtual void on_snapshot(core::worker_snapshot&) {}
  virtual void on_restore(const core::worker_snapshot&) {}
  // Called once the worker has drained, on the worker thread: close what keeps the io_context
  // running (pools, long-polls) so that run() returns.
  virtual void shutdown() {}
};
using services_factory = std::function<std::unique_ptr<worker_services>(
    boost::asio::any_io_executor, std::size_t worker, notifier& notify)>;

struct listen_address {
  std::string host;
  std::uint16_t port = 0;
};

// coaps (DTLS 1.2): docs/dtls.md. Off while `listen` is empty.
struct dtls_options {
  std::vector<listen_address> listen;
  std::shared_ptr<const psk_table> psk;  // null or empty: no PSK handshakes succeed
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  std::size_t max_sessions = 10000;  // per worker
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds idle_timeout{600000};
  // Two tiers as for requests (core/source_limits.hpp): per address (IPv4, IPv6 /64) and per
  // address:port, per worker; 0 = off. Token buckets of two seconds' worth.
  std::uint32_t handshake_rate = 20;
  std::uint32_t handshake_rate_per_source = 2;
  bool address_tier = true;                           // limits.per_address.enabled
  std::vector<core::address_prefix> trusted_proxies;  // exempt from the per-address tier
  // Handshake flights are cut to fit, and the largest record is this minus IP, UDP and DTLS
  // overhead: 1280 (IPv6's minimum) leaves room for a 1152-byte CoAP message.
  std::size_t link_mtu = 1280;
};

struct server_options {
  std::vector<listen_address> listen;
  dtls_options dtls;
  std::size_t workers = 1;
  core::endpoint_config endpoint;
  std::chrono::milliseconds grace{5000};
  // SO_RCVBUF and SO_SNDBUF of every socket (the kernel caps them at net.core.rmem_max and
  // wmem_max); 0 keeps the system default. A burst beyond the receive buffer is dropped by the
  // kernel and counted in server_stats::receive_drops.
  std::size_t socket_receive_buffer = 4 * 1024 * 1024;
  std::size_t socket_send_buffer = 4 * 1024 * 1024;
  std::uint64_t seed = 0;  // per-worker endpoint seeds derive from it
  // Which GETs name an observable resource (translate::observable_resource); given to every
  // worker's endpoint. Empty: nothing is observable.
  core::observable_fn observable;
  // Which requests the handler answers at once from the request alone
  // (translate::answered_locally); empty: every request is remembered for duplicates.
  core::local_answer_fn local_answer;
  // How often each worker's loop stamps its heartbeat (stalled_workers()).
  std::chrono::milliseconds heartbeat{500};
};

struct server_stats {
  core::endpoint_stats endpoint;
  std::uint64_t retransmissions = 0;
  std::uint64_t dedup_evictions = 0;
  std::uint64_t send_errors = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t observers = 0;
  std::uint64_t block_transfers = 0;
  // Datagrams the kernel dropped because a socket's receive buffer was full (SO_RXQ_OVFL).
  std::uint64_t receive_drops = 0;
  dtls_stats dtls;

  server_stats& operator+=(const server_stats& o) {
    endpoint += o.endpoint;
    retransmissions += o.retransmissions;
    dedup_evictions += o.dedup_evictions;
    send_errors += o.send_errors;
    in_flight += o.in_flight;
    observers += o.observers;
    block_transfers += o.block_transfers;
    receive_drops += o.receive_drops;
    dtls += o.dtls;
    return *this;
  }
};

class udp_server {
 public:
  udp_server(server_options options, services_factory factory);
  ~udp_server();
  udp_server(const udp_server&) = delete;
  udp_server& operator=(const udp_server&) = delete;

  // Binds every listen address on every worker. A port 0 becomes the port the first worker
  // got, so all workers share it. Returns the bound addresses as "host:port".
  boost::system::result<std::vector<std::string>> bind();
  // The coaps addresses bind() bound, as "host:port".
  const std::vector<std::string>& dtls_bound() const;

  // Runs until stop(): then every worker drains (new requests get 5.03, in-flight ones finish,
  // separate responses get their ACK) for at most `grace`, and run() returns.
  void run();
  // Thread-safe.
  void stop();

  // A restart on the same host. Before stop(), thread-safe: every worker's snapshot, taken on
  // its own thread; entry i is worker i's (empty for a worker that did not answer within
  // `wait`). With SO_REUSEPORT the kernel picks a client's socket, hence its worker, by a hash
  // of the 4-tuple over the sockets bound to the port in bind order: with the same coap.listen
  // and workers the same client reaches the same worker index after a restart, so restore()
  // gives snapshot i back to worker i.
  std::vector<core::worker_snapshot> snapshot(std::chrono::milliseconds wait);
  // After bind(), before run(): worker i restores snapshots[i] first thing on its thread.
  void restore(std::vector<core::worker_snapshot> snapshots);
  // Before stop(), thread-safe: every observer gets `content` as a final notification
  // (shutdown.observers: end).
  void end_observations(const coap::message& content);

  // Thread-safe: every worker applies the new limits and timings (a reload).
  void reconfigure(const core::endpoint_config& config);
  // Thread-safe: every worker's coaps listener takes the new keys; sessions of an identity that
  // is gone or whose key changed are closed, the others stay.
  void set_psk(std::shared_ptr<const psk_table> table);

  // Sums of every worker's counters; thread-safe (a snapshot taken on each worker).
  server_stats stats() const;

  // Liveness: the workers whose loop has not stamped its heartbeat for more than `max_age` at
  // `now` (steady clock), i.e. stuck in a blocking call or a busy handler; a worker that has
  // finished is never stalled. Thread-safe; for the watchdog and /healthz on the control thread.
  std::vector<std::size_t> stalled_workers(std::chrono::steady_clock::time_point now,
                                           std::chrono::nanoseconds max_age) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace gw::server
