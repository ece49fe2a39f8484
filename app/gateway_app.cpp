#include "app/gateway_app.hpp"

#include <iostream>
#include <random>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "gateway/server/udp_server.hpp"
#include "log/log.hpp"
#include "translate/dispatcher.hpp"
#include "translate/observe_bridge.hpp"
#include "upstream/http_client.hpp"

namespace gw::app {

namespace asio = boost::asio;

namespace {

server::server_options server_options_from(const conf::config& c) {
  server::server_options o;
  for (const auto& l : c.coap.listen) o.listen.push_back({l.host, l.port});
  o.workers = c.workers != 0 ? c.workers : std::max(1u, std::thread::hardware_concurrency());
  o.endpoint.tx.ack_timeout = c.coap.ack_timeout;
  o.endpoint.tx.ack_random_factor = c.coap.ack_random_factor;
  o.endpoint.tx.max_retransmit = c.coap.max_retransmit;
  o.endpoint.separate_response_after = c.coap.separate_response_after;
  o.endpoint.max_message_size = c.coap.max_message_size;
  o.endpoint.dedup_cache_bytes = c.coap.dedup_cache_bytes;
  o.grace = c.shutdown.grace;
  o.endpoint.observe.max_observers = c.observe.max_observers;
  o.endpoint.observe.max_observers_per_client = c.observe.max_observers_per_client;
  o.endpoint.observe.max_resources = c.observe.max_polls;
  o.endpoint.observe.max_age = std::chrono::duration_cast<std::chrono::seconds>(c.observe.max_age);
  o.endpoint.block.block_size = c.coap.block_size;
  o.endpoint.block.max_body = c.block.max_body;
  o.endpoint.block.store_bytes = c.block.cache_bytes;
  o.endpoint.block.max_transfers = c.block.max_transfers;
  o.endpoint.block.max_transfers_per_client = c.block.max_transfers_per_client;
  o.endpoint.block.lifetime = o.endpoint.tx.exchange_lifetime();
  o.seed = std::random_device{}();
  return o;
}

upstream::client_options client_options_from(const conf::config& c) {
  upstream::client_options o;
  o.base_url = c.upstream.url;
  o.timeout = c.upstream.timeout;
  o.connect_timeout = c.upstream.connect_timeout;
  o.max_connections = c.upstream.connections;
  o.max_queue = c.upstream.queue;
  o.idle_timeout = c.upstream.idle_timeout;
  o.verify_peer = c.upstream.tls.verify;
  o.ca_file = c.upstream.tls.ca_file;
  o.cert_file = c.upstream.tls.cert_file;
  o.key_file = c.upstream.tls.key_file;
  return o;
}

translate::dispatcher_options dispatcher_options_from(const conf::config& c) {
  translate::dispatcher_options o;
  o.alias_cache.ttl = c.alias_cache.ttl;
  o.alias_cache.negative_ttl = c.alias_cache.negative_ttl;
  o.alias_cache.max_entries = c.alias_cache.max_entries;
  o.local_timestamp = c.timestamp.source == "local";
  o.block_size = c.coap.block_size;
  o.content_cache_bytes = c.block.cache_bytes;
  return o;
}

translate::observe_bridge_options bridge_options_from(const conf::config& c) {
  translate::observe_bridge_options o;
  o.upstream = client_options_from(c);
  o.poll_timeout = c.observe.poll_timeout;
  return o;
}

// What one worker owns besides its sockets. Lives until the worker has drained.
struct worker_state {
  std::unique_ptr<upstream::http_client> client;
  std::unique_ptr<translate::dispatcher> dispatcher;
  std::unique_ptr<translate::observe_bridge> observe;
};

}  // namespace

int run_gateway(const conf::config& config) {
  log::level lvl;
  if (log::parse_level(config.log.level, lvl)) log::set_level(lvl);
  log::set_json(config.log.format == "json");

  // Fail at start, not on the first request, when the upstream settings cannot work.
  if (auto probe = upstream::make_http_client(asio::io_context{}.get_executor(),
                                              client_options_from(config));
      !probe) {
    std::cerr << "coap-gateway: upstream: " << probe.error().message() << "\n";
    return 2;
  }
  if (!config.upstream.tls.verify)
    GW_LOG(warn, "upstream", "TLS certificate verification is OFF (upstream.tls.verify: false)");

  std::vector<std::shared_ptr<worker_state>> states;
  std::mutex states_mutex;
  auto factory = [&](asio::any_io_executor executor, std::size_t, server::notifier& notifier) {
    auto state = std::make_shared<worker_state>();
    state->client = std::move(*upstream::make_http_client(executor, client_options_from(config)));
    state->dispatcher = std::make_unique<translate::dispatcher>(*state->client,
                                                                dispatcher_options_from(config));
    translate::observe_sink sink{
        [&notifier](const std::string& r, coap::message m) { notifier.notify(r, std::move(m)); },
        [&notifier](const std::string& r, coap::message m) {
          notifier.notify_final(r, std::move(m));
        }};
    state->observe = std::make_unique<translate::observe_bridge>(executor, bridge_options_from(config),
                                                                 std::move(sink));
    {
      std::lock_guard lock(states_mutex);
      states.push_back(state);
    }
    server::worker_services services;
    services.handle = [state](coap::message request,
                              server::request_context) -> asio::awaitable<coap::message> {
      co_return co_await state->dispatcher->async_handle(std::move(request));
    };
    services.on_observe = [state](const core::observe_event& e) {
      if (e.what == core::observe_event::kind::started)
        state->observe->on_started(e.resource, e.request);
      else
        state->observe->on_stopped(e.resource);
    };
    services.shutdown = [state] {
      state->observe->close();
      state->client->close();
    };
    return services;
  };

  // Signals are caught before the ready line, so a stop sent right after it is never lost.
  asio::io_context control;
  asio::signal_set signals(control, SIGINT, SIGTERM);

  server::udp_server udp(server_options_from(config), factory);
  auto bound = udp.bind();
  if (!bound) {
    std::cerr << "coap-gateway: cannot listen: " << bound.error().message() << "\n";
    return 1;
  }
  for (const auto& address : *bound)
    std::cout << "coap-gateway listening on coap://" << address << std::endl;
  GW_LOG(info, "gateway", "upstream " + config.upstream.url);

  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    GW_LOG(info, "gateway", std::string("stopping on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"));
    udp.stop();
  });
  std::thread control_thread([&] { control.run(); });

  udp.run();

  signals.cancel();
  control.stop();
  control_thread.join();
  GW_LOG(info, "gateway", "stopped");
  return 0;
}

}  // namespace gw::app
