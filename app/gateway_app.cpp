#include "app/gateway_app.hpp"

#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "app/metered_client.hpp"
#include "app/sd_notify.hpp"
#include "app/settings.hpp"
#include "conf/load.hpp"
#include "log/log.hpp"
#include "metrics/http_endpoint.hpp"
#include "metrics/registry.hpp"
#include "metrics/text_format.hpp"
#include "translate/cik.hpp"

namespace gw::app {

namespace asio = boost::asio;

namespace {

// What one worker owns besides its sockets. Lives until the worker has drained; touched only on
// that worker's thread (a reload posts there).
struct worker_state {
  asio::any_io_executor executor;
  metrics::shard* shard = nullptr;
  std::unique_ptr<upstream::http_client> client;
  // Clients replaced by a reload, kept until their last call has completed.
  std::vector<std::unique_ptr<upstream::http_client>> retired;
  std::unique_ptr<metered_client> metered;
  std::unique_ptr<translate::dispatcher> dispatcher;
  std::unique_ptr<translate::observe_bridge> observe;
  bool access_log = false;
};

// A reload that changes the pool's settings swaps in a new client; calls already running keep
// theirs, so nothing in flight is dropped.
void swap_client(worker_state& state, const upstream::client_options& options) {
  auto fresh = upstream::make_http_client(state.executor, options);
  if (!fresh) {
    GW_LOG(error, "gateway", "reload: upstream client: " + fresh.error().message());
    return;
  }
  state.retired.push_back(std::move(state.client));
  state.client = std::move(*fresh);
  state.metered->set_inner(*state.client);
}

void sweep_retired(worker_state& state) {
  std::erase_if(state.retired, [](const auto& c) {
    if (c->stats().in_flight != 0) return false;
    c->close();
    return true;
  });
}

void log_access(const coap::message& request, const coap::message& response,
                std::optional<translate::procedure> proc, const server::request_context& ctx,
                std::chrono::steady_clock::duration elapsed) {
  auto queries = request.queries();
  auto cik = queries.empty() ? std::nullopt : translate::decode_cik(queries.front());
  auto ms = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count() / 1000.0;
  GW_LOG(info, "access",
         ctx.peer.to_string() + " " + std::string(proc ? translate::to_string(*proc) : "none") +
             " " + response.code.to_string() + " " + std::to_string(ms) + "ms" +
             (cik ? " cik=" + log::mask(*cik) : ""));
}

std::string render_metrics(const metrics::registry& registry, const server::udp_server& udp) {
  auto snap = registry.collect();
  const auto s = udp.stats();
  snap.set(metrics::duplicates_total, s.endpoint.duplicates);
  snap.set(metrics::malformed_total, s.endpoint.malformed);
  snap.set(metrics::rst_sent_total, s.endpoint.rst_sent);
  snap.set(metrics::rst_received_total, s.endpoint.rst_received);
  snap.set(metrics::separate_responses_total, s.endpoint.separate_responses);
  snap.set(metrics::gave_up_total, s.endpoint.gave_up);
  snap.set(metrics::overloaded_total, s.endpoint.overloaded);
  snap.set(metrics::retransmissions_total, s.retransmissions);
  snap.set(metrics::dedup_evictions_total, s.dedup_evictions);
  snap.set(metrics::dedup_effective_window_seconds, s.endpoint.dedup_window_seconds());
  snap.set(metrics::observations_active, static_cast<double>(s.observers));
  snap.set(metrics::block_transfers_active, static_cast<double>(s.block_transfers));
  return metrics::render_text(snap);
}

}  // namespace

int run_gateway(const conf::config& initial, std::optional<std::string> config_path,
                on_listening listening) {
  apply_logging(initial);
  // Fail at start, not on the first request, when the upstream settings cannot work. The probe
  // client is destroyed before the io_context it was made on.
  {
    asio::io_context probe_io;
    auto probe = upstream::make_http_client(probe_io.get_executor(), client_options_from(initial));
    if (!probe) {
      std::cerr << "coap-gateway: upstream: " << probe.error().message() << "\n";
      return 2;
    }
  }
  if (!initial.upstream.tls.verify)
    GW_LOG(warn, "upstream", "TLS certificate verification is OFF (upstream.tls.verify: false)");

  conf::config running = initial;
  metrics::registry registry;
  registry.set(
      metrics::process_start_time_seconds,
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());

  std::vector<std::shared_ptr<worker_state>> states;
  std::mutex states_mutex;
  auto factory = [&](asio::any_io_executor executor, std::size_t, server::notifier& notifier) {
    auto state = std::make_shared<worker_state>();
    state->executor = executor;
    state->shard = &registry.add_shard();
    state->client = std::move(*upstream::make_http_client(executor, client_options_from(running)));
    state->metered = std::make_unique<metered_client>(*state->client, *state->shard);
    state->dispatcher =
        std::make_unique<translate::dispatcher>(*state->metered, dispatcher_options_from(running));
    translate::observe_sink sink{
        [&notifier](const std::string& r, coap::message m) { notifier.notify(r, std::move(m)); },
        [&notifier](const std::string& r, coap::message m) {
          notifier.notify_final(r, std::move(m));
        }};
    state->observe = std::make_unique<translate::observe_bridge>(
        executor, bridge_options_from(running), std::move(sink));
    state->access_log = running.log.access;
    {
      std::lock_guard lock(states_mutex);
      states.push_back(state);
    }
    server::worker_services services;
    services.handle = [state](coap::message request,
                              server::request_context ctx) -> asio::awaitable<coap::message> {
      const auto start = std::chrono::steady_clock::now();
      const auto proc = translate::dispatcher::classify(request);
      std::optional<coap::message> copy;
      if (state->access_log) copy = request;
      auto response = co_await state->dispatcher->async_handle(std::move(request));
      const auto elapsed = std::chrono::steady_clock::now() - start;
      auto& shard = *state->shard;
      shard.add(metrics::requests_total,
                {proc ? translate::to_string(*proc) : "none", response.code.to_string()});
      shard.observe(metrics::request_duration_seconds, elapsed);
      const auto pool = state->client->stats();
      shard.set(metrics::upstream_connections_open, static_cast<double>(pool.open));
      shard.set_total(metrics::upstream_queue_waits_total, pool.queue_waits_total);
      if (copy) log_access(*copy, response, proc, ctx, elapsed);
      if (!state->retired.empty()) sweep_retired(*state);
      co_return response;
    };
    services.on_observe = [state](const core::observe_event& e) {
      if (e.what == core::observe_event::kind::started)
        state->observe->on_started(e.resource, e.request);
      else
        state->observe->on_stopped(e.resource);
      state->shard->set(metrics::longpolls_active,
                        static_cast<double>(state->observe->active_polls()));
    };
    services.shutdown = [state] {
      state->observe->close();
      state->client->close();
      for (auto& c : state->retired) c->close();
    };
    return services;
  };

  // Signals are caught before the ready line, so a stop sent right after it is never lost.
  asio::io_context control;
  asio::signal_set stop_signals(control, SIGINT, SIGTERM);
  asio::signal_set reload_signal(control, SIGHUP);
  std::atomic<bool> ready{false};

  server::udp_server udp(server_options_from(running), factory);
  auto bound = udp.bind();
  if (!bound) {
    std::cerr << "coap-gateway: cannot listen: " << bound.error().message() << "\n";
    return 1;
  }

  std::unique_ptr<metrics::http_endpoint> metrics_http;
  std::string metrics_url;
  if (!running.metrics.listen.empty()) {
    metrics::http_endpoint_options mo;
    mo.listen = running.metrics.listen;
    mo.ready = [&ready] { return ready.load(); };
    mo.metrics = [&registry, &udp] { return render_metrics(registry, udp); };
    metrics_http = std::make_unique<metrics::http_endpoint>(control, mo);
    auto port = metrics_http->start();
    if (!port) {
      std::cerr << "coap-gateway: metrics: cannot listen on " << running.metrics.listen << ": "
                << port.error().message() << "\n";
      return 1;
    }
    auto host = running.metrics.listen.substr(0, running.metrics.listen.rfind(':'));
    metrics_url = "http://" + host + ":" + std::to_string(*port) + "/metrics";
  }

  std::string addresses;
  for (const auto& address : *bound) {
    std::cout << "coap-gateway listening on coap://" << address << "\n";
    addresses += (addresses.empty() ? "" : " ") + address;
  }
  if (!metrics_url.empty()) std::cout << "coap-gateway metrics on " << metrics_url << "\n";
  std::cout << std::flush;
  if (listening) listening(*bound);
  GW_LOG(info, "gateway", "upstream " + running.upstream.url);
  ready = true;
  systemd::notify_ready();
  systemd::notify_status("serving " + addresses);

  stop_signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    GW_LOG(info, "gateway",
           std::string("stopping on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"));
    ready = false;
    systemd::notify_stopping();
    reload_signal.cancel();
    udp.stop();
    GW_LOG(info, "gateway",
           "draining: new requests get 5.03 for at most " +
               std::to_string(running.shutdown.grace.count()) + " ms");
  });

  std::function<void()> wait_reload = [&] {
    reload_signal.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      systemd::notify_reloading();
      if (!config_path) {
        GW_LOG(warn, "gateway", "SIGHUP: no config file to reload (demo)");
      } else if (auto loaded = conf::load_file(*config_path); !loaded.ok()) {
        for (const auto& e : loaded.errors()) GW_LOG(error, "config", e.to_string());
        GW_LOG(error, "gateway", "reload refused: keeping the running configuration");
      } else {
        for (const auto& key : restart_only_changes(running, loaded.get()))
          GW_LOG(warn, "gateway", key + " changed: takes effect after a restart");
        const auto before = client_options_from(running);
        running = effective_after_reload(running, loaded.get());
        const auto after = client_options_from(running);
        const bool new_pool = before.max_connections != after.max_connections ||
                              before.max_queue != after.max_queue ||
                              before.idle_timeout != after.idle_timeout ||
                              before.connect_timeout != after.connect_timeout;
        apply_logging(running);
        udp.reconfigure(endpoint_config_from(running));
        std::lock_guard lock(states_mutex);
        for (const auto& state : states) {
          asio::post(state->executor,
                     [state, d = dispatcher_options_from(running), b = bridge_options_from(running),
                      access = running.log.access, new_pool, after] {
                       if (new_pool) swap_client(*state, after);
                       state->dispatcher->set_options(d);
                       state->observe->set_options(b);
                       state->access_log = access;
                     });
        }
        GW_LOG(info, "gateway", "configuration reloaded from " + *config_path);
      }
      systemd::notify_ready();
      wait_reload();
    });
  };
  wait_reload();

  // The watchdog pings from the control thread: it keeps pinging while workers drain.
  asio::steady_timer watchdog(control);
  std::function<void()> ping;
  if (auto interval = systemd::watchdog_interval()) {
    ping = [&, every = *interval] {
      systemd::notify_watchdog();
      watchdog.expires_after(every);
      watchdog.async_wait([&](boost::system::error_code ec) {
        if (!ec) ping();
      });
    };
    ping();
  }

  std::thread control_thread([&] { control.run(); });
  udp.run();
  {
    // The workers' clients and timers must go while the workers' io_contexts still exist.
    std::lock_guard lock(states_mutex);
    states.clear();
  }

  asio::post(control, [&] {
    stop_signals.cancel();
    reload_signal.cancel();
    watchdog.cancel();
    if (metrics_http) metrics_http->stop();
  });
  control_thread.join();
  GW_LOG(info, "gateway", "stopped");
  return 0;
}

}  // namespace gw::app
