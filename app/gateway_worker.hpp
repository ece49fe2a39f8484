#pragma once
// What one worker runs besides its sockets: its upstream pool, the procedure runner, the
// long-poll bridge, request metrics and the access log. Built by the worker on its own executor,
// owned by it and destroyed before its io_context; used on the worker's thread only (a reload
// posts there).
#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "app/metered_client.hpp"
#include "conf/config.hpp"
#include "gateway/server/udp_server.hpp"
#include "metrics/shard.hpp"
#include "runner/breaker.hpp"
#include "runner/guarded_client.hpp"
#include "runner/long_poll_bridge.hpp"
#include "runner/procedure_runner.hpp"
#include "runner/upstream_admission.hpp"
#include "upstream/http_client.hpp"

namespace gw::app {

class gateway_worker final : public server::worker_services {
 public:
  gateway_worker(boost::asio::any_io_executor executor, const conf::config& config,
                 metrics::shard& shard, server::notifier& notifier, std::uint64_t seed);
  ~gateway_worker() override;

  boost::asio::awaitable<coap::message> async_handle(coap::message request,
                                                     server::request_context ctx) override;
  // The runner's decide(): local answers are recorded and returned at once, the rest become
  // the coroutine that calls upstream.
  handling handle(coap::message request, const server::request_context& ctx) override;
  void on_observe(const core::observe_event& event) override;
  void on_snapshot(core::worker_snapshot& snapshot) override;
  void on_restore(const core::worker_snapshot& snapshot) override;
  void shutdown() override;

  // A reload, on the worker's thread: new options apply to calls from now on.
  void apply(const conf::config& config, bool new_pool);
  boost::asio::any_io_executor executor() const { return executor_; }

 private:
  std::unique_ptr<upstream::client> make_poll_client() const;
  // A reload that changes the pool's settings swaps in a new client; calls already running keep
  // theirs, so nothing in flight is dropped.
  void swap_clients(const conf::config& config);
  void sweep_retired();
  boost::asio::awaitable<coap::message> async_run(coap::message request,
                                                  runner::procedure_runner::decision work,
                                                  server::request_context ctx,
                                                  std::chrono::steady_clock::time_point start,
                                                  runner::upstream_admission::ticket admitted);
  runner::upstream_admission& admission(runner::lane which);
  // Metrics and the access log of one answered request.
  void finish(const coap::message& request, const coap::message& response,
              std::optional<translate::procedure> proc, const server::request_context& ctx,
              std::chrono::steady_clock::time_point start);
  void record(const coap::message& response, std::optional<translate::procedure> proc,
              std::chrono::steady_clock::duration elapsed);

  boost::asio::any_io_executor executor_;
  metrics::shard& shard_;
  upstream::client_options poll_client_options_;
  bool access_log_ = false;
  std::uint32_t busy_max_age_s_;
  // Before everything the calls use, so destroyed after them: a call's ticket is given back
  // when its coroutine ends. Indexed by runner::lane.
  std::array<runner::upstream_admission, 2> admission_;
  // Only to ask whether a source has a share of its own (trusted proxies, the address tier).
  core::source_limits address_tier_;
  // Destroyed bottom-up: the bridge and the runner stop using the clients before they go.
  // runner -> guarded (one breaker for both lanes) -> metered -> pool, per lane.
  std::unique_ptr<upstream::http_client> client_;
  std::unique_ptr<upstream::http_client> long_client_;
  std::vector<std::unique_ptr<upstream::http_client>> retired_;  // until their calls finish
  metered_client metered_;
  metered_client long_metered_;
  runner::breaker breaker_;
  runner::guarded_client guarded_;
  runner::guarded_client long_guarded_;
  runner::observed_points points_;  // shared by the runner and the bridge
  runner::procedure_runner runner_;
  runner::long_poll_bridge bridge_;
};

}  // namespace gw::app
