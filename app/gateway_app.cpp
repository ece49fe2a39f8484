#include "app/gateway_app.hpp"

#include <atomic>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "app/gateway_worker.hpp"
#include "app/sd_notify.hpp"
#include "app/settings.hpp"
#include "app/stall_hook.hpp"
#include "app/state_file.hpp"
#include "conf/load.hpp"
#include "log/log.hpp"
#include "metrics/http_endpoint.hpp"
#include "metrics/registry.hpp"
#include "metrics/text_format.hpp"
#include "translate/observable.hpp"
#include "translate/route_table.hpp"

namespace gw::app {

namespace asio = boost::asio;

namespace {

std::string render_metrics(const metrics::registry& registry, const server::udp_server& udp) {
  auto snap = registry.collect();
  const auto s = udp.stats();
  snap.set(metrics::duplicates_total, s.endpoint.duplicates);
  snap.set(metrics::malformed_total, s.endpoint.malformed);
  snap.set(metrics::udp_receive_drops_total, s.receive_drops);
  snap.set(metrics::rst_sent_total, s.endpoint.rst_sent);
  snap.set(metrics::rst_received_total, s.endpoint.rst_received);
  snap.set(metrics::separate_responses_total, s.endpoint.separate_responses);
  snap.set(metrics::non_notifications_total, s.endpoint.non_notifications);
  snap.set(metrics::gave_up_total, s.endpoint.gave_up);
  snap.set(metrics::overloaded_total, s.endpoint.overloaded);
  snap.set(metrics::amplification_skipped_total, s.endpoint.amplification_skipped);
  snap.set(metrics::amplification_held_bytes_total, s.endpoint.amplification_held_bytes);
  snap.set(metrics::verified_sources, static_cast<double>(s.endpoint.verified_sources));
  snap.set(metrics::unmatched_acks_total, s.endpoint.unmatched_acks);
  snap.set(metrics::verified_by_ack_total, s.endpoint.verified_by_ack);
  snap.set(metrics::verified_by_rst_total, s.endpoint.verified_by_rst);
  snap.set(metrics::verified_by_echo_total, s.endpoint.verified_by_echo);
  snap.set(metrics::verification_lockouts_total, s.endpoint.verification_lockouts);
  snap.set(metrics::echo_challenges_total, s.endpoint.echo_challenges);
  snap.set(metrics::retransmissions_total, s.retransmissions);
  snap.set(metrics::dedup_evictions_total, s.dedup_evictions);
  snap.set(metrics::dedup_effective_window_seconds, s.endpoint.dedup_window_seconds());
  snap.set(metrics::observations_active, static_cast<double>(s.observers));
  snap.set(metrics::block_transfers_active, static_cast<double>(s.block_transfers));
  snap.set(metrics::dtls_sessions_open, static_cast<double>(s.dtls.sessions_open));
  snap.set(metrics::dtls_cookies_sent_total, s.dtls.cookies_sent);
  snap.set(metrics::dtls_dropped_total, s.dtls.dropped);
  if (!udp.dtls_bound().empty()) {
    const auto handshakes = metrics::dtls_handshakes_total.id;
    snap.at(handshakes, {"ok", ""}).count = s.dtls.handshakes_ok;
    for (std::size_t i = 1; i < server::handshake_failure_count; ++i)
      snap.at(handshakes, {server::to_string(static_cast<server::handshake_failure>(i)), ""})
          .count = s.dtls.handshakes_failed[i];
    const auto alerts = metrics::dtls_alerts_total.id;
    snap.at(alerts, {"sent", ""}).count = s.dtls.alerts_sent;
    snap.at(alerts, {"received", ""}).count = s.dtls.alerts_received;
  }
  snap.set(metrics::requests_in_flight, static_cast<double>(s.endpoint.in_flight));
  snap.set(metrics::safe_requests_running, static_cast<double>(s.endpoint.dedup_safe_running));
  snap.set(metrics::rate_buckets, static_cast<double>(s.endpoint.limits.buckets));
  const auto& l = s.endpoint.limits;
  for (auto tier : {core::limit_tier::source, core::limit_tier::address}) {
    const auto t = static_cast<std::size_t>(tier);
    auto set = [&](std::string_view limit, std::uint64_t value) {
      snap.at(metrics::metric::limited_total,
              {std::string(limit), std::string(core::to_string(tier))})
          .count = value;
    };
    set("rate_dropped", l.rate_dropped[t]);
    set("rate_answered", l.rate_answered[t]);
    for (std::size_t i = 0; i < core::limited_count; ++i)
      set(core::to_string(static_cast<core::limited>(i)), l.refused[i][t]);
  }
  return metrics::render_text(snap);
}

// Fail at start, not on the first request, when the upstream settings cannot work. The probe
// client goes before the io_context it was made on.
bool upstream_settings_work(const conf::config& config) {
  asio::io_context probe_io;
  auto probe = upstream::make_http_client(probe_io.get_executor(), client_options_from(config));
  if (!probe) {
    std::cerr << "coap-gateway: upstream: " << probe.error().message() << "\n";
    return false;
  }
  if (!config.upstream.tls.verify)
    GW_LOG(warn, "upstream", "TLS certificate verification is OFF (upstream.tls.verify: false)");
  return true;
}

bool pool_settings_changed(const upstream::client_options& a, const upstream::client_options& b) {
  return a.max_connections != b.max_connections || a.max_queue != b.max_queue ||
         a.idle_timeout != b.idle_timeout || a.connect_timeout != b.connect_timeout;
}

// The running gateway: the UDP workers and their services, and on a control thread the
// signals, the reload, the watchdog and the metrics endpoint. Members are destroyed bottom-up,
// so the workers (and everything that uses their io_contexts) go first.
class gateway {
 public:
  gateway(const conf::config& config, std::optional<std::string> config_path,
          std::vector<core::worker_snapshot> restored, std::shared_ptr<const server::psk_table> psk)
      : running_(config),
        config_path_(std::move(config_path)),
        restored_(std::move(restored)),
        psk_(std::move(psk)),
        udp_(make_server_options(),
             [this](asio::any_io_executor ex, std::size_t index, server::notifier& notifier) {
               return make_worker(std::move(ex), index, notifier);
             }) {}

  int run(const on_listening& listening);

 private:
  server::server_options make_server_options();
  // coap.dtls.psk_file again, for every worker; a file that does not parse changes nothing.
  void reload_psk();
  std::unique_ptr<server::worker_services> make_worker(asio::any_io_executor executor,
                                                       std::size_t index,
                                                       server::notifier& notifier);
  bool start_metrics();
  void announce(const std::vector<std::string>& bound, const on_listening& listening);
  void wait_stop();
  void on_stop(int signal);
  void wait_reload();
  void reload();
  void apply_to_workers(bool new_pool);
  void ping_watchdog(std::chrono::microseconds every);
  bool workers_turning();
  void stop_control();

  conf::config running_;
  std::optional<std::string> config_path_;
  std::vector<core::worker_snapshot> restored_;  // handed to the workers once bound
  std::shared_ptr<const server::psk_table> psk_;
  std::uint64_t seed_ = std::random_device{}();
  metrics::registry registry_;
  std::atomic<bool> ready_{false};
  std::mutex workers_mutex_;
  std::vector<gateway_worker*> workers_;  // owned by their udp_ workers
  asio::io_context control_;
  // Caught before the ready line, so a stop sent right after it is never lost.
  asio::signal_set stop_signals_{control_, SIGINT, SIGTERM};
  asio::signal_set reload_signal_{control_, SIGHUP};
  asio::steady_timer watchdog_{control_};
  bool stall_reported_ = false;             // on the control thread
  std::unique_ptr<stall_hook> stall_hook_;  // tests only (COAP_GATEWAY_TEST_HOOKS=1)
  std::unique_ptr<metrics::http_endpoint> metrics_http_;
  std::string metrics_url_;
  server::udp_server udp_;
};

server::server_options gateway::make_server_options() {
  auto options = server_options_from(running_);
  options.dtls.psk = psk_;
  options.observable = translate::observable_resource;
  options.local_answer = translate::answered_locally;
  return options;
}

std::unique_ptr<server::worker_services> gateway::make_worker(asio::any_io_executor executor,
                                                              std::size_t index,
                                                              server::notifier& notifier) {
  auto worker = std::make_unique<gateway_worker>(std::move(executor), running_,
                                                 registry_.add_shard(), notifier, seed_ + index);
  std::lock_guard lock(workers_mutex_);
  workers_.push_back(worker.get());
  return worker;
}

int gateway::run(const on_listening& listening) {
  auto bound = udp_.bind();
  if (!bound) {
    std::cerr << "coap-gateway: cannot listen: " << bound.error().message() << "\n";
    return 1;
  }
  if (!start_metrics()) return 1;
  // Worker i gets back what worker i had: with the same sockets, SO_REUSEPORT sends each client
  // to the same worker index (udp_server::snapshot). Runs first thing on each worker's thread.
  if (!restored_.empty()) udp_.restore(std::move(restored_));
  // Before the ready line, so that a test's first SIGUSR2 finds it.
  stall_hook_ = stall_hook::from_environment(control_, [this] {
    std::lock_guard lock(workers_mutex_);
    return workers_.front()->executor();
  });
  announce(*bound, listening);
  wait_stop();
  wait_reload();
  if (auto every = systemd::watchdog_interval()) {
    // WatchdogSec is twice the ping interval (sd_watchdog_enabled(3)).
    if (running_.watchdog.max_stall >= 2 * *every)
      GW_LOG(warn, "gateway",
             "watchdog.max_stall (" + std::to_string(running_.watchdog.max_stall.count()) +
                 " ms) is not below WatchdogSec (" + std::to_string(2 * every->count() / 1000) +
                 " ms): systemd's watchdog may fire before the stall is noticed and logged");
    ping_watchdog(*every);
  }

  std::thread control_thread([this] { control_.run(); });
  udp_.run();
  asio::post(control_, [this] { stop_control(); });
  control_thread.join();
  GW_LOG(info, "gateway", "stopped");
  return 0;
}

bool gateway::start_metrics() {
  if (running_.metrics.listen.empty()) return true;
  metrics::http_endpoint_options mo;
  mo.listen = running_.metrics.listen;
  mo.ready = [this] { return ready_.load(); };
  mo.healthy = [this] { return workers_turning(); };
  mo.metrics = [this] { return render_metrics(registry_, udp_); };
  metrics_http_ = std::make_unique<metrics::http_endpoint>(control_, mo);
  auto port = metrics_http_->start();
  if (!port) {
    std::cerr << "coap-gateway: metrics: cannot listen on " << running_.metrics.listen << ": "
              << port.error().message() << "\n";
    return false;
  }
  auto host = running_.metrics.listen.substr(0, running_.metrics.listen.rfind(':'));
  metrics_url_ = "http://" + host + ":" + std::to_string(*port) + "/metrics";
  return true;
}

void gateway::announce(const std::vector<std::string>& bound, const on_listening& listening) {
  std::string addresses;
  for (const auto& address : bound) {
    std::cout << "coap-gateway listening on coap://" << address << "\n";
    addresses += (addresses.empty() ? "" : " ") + address;
  }
  for (const auto& address : udp_.dtls_bound()) {
    std::cout << "coap-gateway listening on coaps://" << address << "\n";
    addresses += " coaps://" + address;
  }
  if (!metrics_url_.empty()) std::cout << "coap-gateway metrics on " << metrics_url_ << "\n";
  std::cout << std::flush;
  if (listening) listening(bound, udp_.dtls_bound());
  GW_LOG(info, "gateway", "upstream " + running_.upstream.url);
  ready_ = true;
  systemd::notify_ready();
  systemd::notify_status("serving " + addresses);
}

void gateway::wait_stop() {
  stop_signals_.async_wait([this](boost::system::error_code ec, int signal) {
    if (!ec) on_stop(signal);
  });
}

void gateway::on_stop(int signal) {
  GW_LOG(info, "gateway", std::string("stopping on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"));
  ready_ = false;
  systemd::notify_stopping();
  if (stall_hook_) stall_hook_->release();  // a blocked worker could not drain
  reload_signal_.cancel();
  // Before the drain, which ends every relation. Each worker's part is taken on its own thread.
  if (running_.shutdown.observers == "end") {
    // Scale-in: every observer hears that this instance is gone and re-registers at once
    // (through the balancer, on another instance) instead of after Max-Age. The drain keeps
    // retransmitting these finals until ACKed or the grace period ends.
    coap::message gone;
    gone.code = coap::codes::service_unavailable;
    gone.set_payload("gateway shutting down: register again");
    udp_.end_observations(gone);
  }
  auto parts = udp_.snapshot(std::chrono::seconds(1));
  if (running_.shutdown.observers == "end") {
    for (auto& part : parts) {
      part.observers.clear();
      part.resources.clear();
    }
  }
  save_state(running_, std::move(parts));
  udp_.stop();
  GW_LOG(info, "gateway",
         "draining: new requests get 5.03 for at most " +
             std::to_string(running_.shutdown.grace.count()) + " ms");
}

void gateway::wait_reload() {
  reload_signal_.async_wait([this](boost::system::error_code ec, int) {
    if (ec) return;
    reload();
    wait_reload();
  });
}

void gateway::reload() {
  systemd::notify_reloading();
  if (!config_path_) {
    GW_LOG(warn, "gateway", "SIGHUP: no config file to reload (demo)");
  } else if (auto loaded = conf::load_file(*config_path_); !loaded.ok()) {
    for (const auto& e : loaded.errors()) GW_LOG(error, "config", e.to_string());
    GW_LOG(error, "gateway", "reload refused: keeping the running configuration");
  } else {
    for (const auto& w : loaded.warnings) GW_LOG(warn, "config", w.to_string());
    for (const auto& key : restart_only_changes(running_, loaded.get()))
      GW_LOG(warn, "gateway", key + " changed: takes effect after a restart");
    const auto before = running_;
    running_ = effective_after_reload(running_, loaded.get());
    apply_logging(running_);
    udp_.reconfigure(endpoint_config_from(running_));
    reload_psk();
    apply_to_workers(
        pool_settings_changed(client_options_from(before), client_options_from(running_)) ||
        before.upstream.long_connections != running_.upstream.long_connections);
    GW_LOG(info, "gateway", "configuration reloaded from " + *config_path_);
  }
  systemd::notify_ready();
}

void gateway::reload_psk() {
  if (running_.coap.dtls.listen.empty()) return;
  std::string error;
  auto table = load_psk_file(running_, error);
  if (!table) {
    GW_LOG(error, "config", error);
    GW_LOG(error, "gateway", "coap.dtls.psk_file refused: keeping the running keys");
    return;
  }
  const auto removed = psk_->changed_in(*table).size();
  psk_ = table;
  udp_.set_psk(std::move(table));
  // Counts only: identities may be secrets' neighbours, keys are never logged.
  GW_LOG(info, "gateway",
         "coap.dtls.psk_file: " + std::to_string(psk_->size()) + " identities, " +
             std::to_string(removed) + " removed or changed (their sessions closed)");
}

void gateway::apply_to_workers(bool new_pool) {
  std::lock_guard lock(workers_mutex_);
  for (auto* worker : workers_)
    asio::post(worker->executor(),
               [worker, config = running_, new_pool] { worker->apply(config, new_pool); });
}

// From the control thread: it keeps pinging while the workers drain, and stops while a worker's
// loop is stuck, so that systemd restarts a gateway that answers nothing on that worker's share
// of the clients (the kernel hashes each client to one worker's socket).
void gateway::ping_watchdog(std::chrono::microseconds every) {
  if (workers_turning()) systemd::notify_watchdog();
  watchdog_.expires_after(every);
  watchdog_.async_wait([this, every](boost::system::error_code ec) {
    if (!ec) ping_watchdog(every);
  });
}

// On the control thread (the watchdog and /healthz); logs when a stall begins and ends.
bool gateway::workers_turning() {
  const auto max_stall = running_.watchdog.max_stall;
  const auto stalled = udp_.stalled_workers(std::chrono::steady_clock::now(), max_stall);
  if (!stalled.empty() && !stall_reported_) {
    std::string which;
    for (auto w : stalled) which += (which.empty() ? "" : ", ") + std::to_string(w);
    GW_LOG(error, "gateway",
           "worker " + which + " stuck for more than " + std::to_string(max_stall.count()) +
               " ms: /healthz fails and the watchdog pings stop");
    stall_reported_ = true;
  } else if (stalled.empty() && stall_reported_) {
    GW_LOG(warn, "gateway", "every worker is running again");
    stall_reported_ = false;
  }
  return stalled.empty();
}

void gateway::stop_control() {
  if (stall_hook_) stall_hook_->release();
  stop_signals_.cancel();
  reload_signal_.cancel();
  watchdog_.cancel();
  if (metrics_http_) metrics_http_->stop();
}

}  // namespace

int run_gateway(const conf::config& config, std::optional<std::string> config_path,
                on_listening listening, std::optional<std::string> psk_text) {
  apply_logging(config);
  if (!upstream_settings_work(config)) return 2;
  std::string error;
  auto psk = psk_text ? parse_psk_text(*psk_text, "psk", error) : load_psk_file(config, error);
  if (!psk) {
    std::cerr << "coap-gateway: " << error << "\n";
    return 2;
  }
  // Before the gateway exists: a restore adopts the snapshot's hash key, which must happen
  // before any table hashes with it.
  auto restored = take_restorable(config);
  gateway gw(config, std::move(config_path), std::move(restored), std::move(psk));
  return gw.run(listening);
}

}  // namespace gw::app
