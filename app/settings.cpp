#include "app/settings.hpp"

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "log/log.hpp"

namespace gw::app {

core::endpoint_config endpoint_config_from(const conf::config& c) {
  core::endpoint_config e;
  e.tx.ack_timeout = c.coap.ack_timeout;
  e.tx.ack_random_factor = c.coap.ack_random_factor;
  e.tx.max_retransmit = c.coap.max_retransmit;
  e.separate_response_after = c.coap.separate_response_after;
  e.max_message_size = c.coap.max_message_size;
  e.dedup_cache_bytes = c.coap.dedup_cache_bytes;
  e.replay_window = std::min(c.coap.replay_window, c.coap.ack_timeout);  // see conf/schema.cpp
  e.dedup_window = c.coap.dedup_window;
  e.observe.max_observers = c.observe.max_observers;
  e.observe.max_observers_per_client = c.observe.max_observers_per_client;
  e.observe.max_resources = c.observe.max_resources;
  e.observe.non_notifications = c.observe.non_notifications;
  e.observe.max_age = std::chrono::duration_cast<std::chrono::seconds>(c.observe.max_age);
  e.block.block_size = c.coap.block_size;
  e.block.max_body = c.block.max_body;
  e.block.store_bytes = c.block.store_bytes;
  e.block.max_transfers = c.block.max_transfers;
  e.block.max_transfers_per_client = c.block.max_transfers_per_client;
  e.block.reserve_bytes = c.block.reserve_bytes;
  e.block.lifetime = e.tx.exchange_lifetime();
  e.block.first_block_lifetime = e.tx.max_transmit_span();
  e.amplification.factor = c.coap.amplification_factor;
  e.amplification.verified_idle = c.coap.verified_idle;
  e.amplification.max_sources = c.coap.amplification_sources;
  const auto& ps = c.limits.per_source;
  const auto& pa = c.limits.per_address;
  e.limits.per_source = {c.block.max_transfers_per_client,
                         c.observe.max_observers_per_client,
                         ps.in_flight,
                         ps.safe_requests,
                         static_cast<double>(ps.rate),
                         static_cast<double>(ps.burst)};
  e.limits.per_address = {pa.block1_transfers,
                          pa.observers,
                          pa.in_flight,
                          pa.safe_requests,
                          static_cast<double>(pa.rate),
                          static_cast<double>(pa.burst)};
  e.limits.address_tier = pa.enabled;
  // Validated by the loader (conf/schema.cpp).
  e.limits.trusted_proxies = core::parse_address_prefixes(c.coap.trusted_proxies)
                                 .value_or(std::vector<core::address_prefix>{});
  return e;
}

server::server_options server_options_from(const conf::config& c) {
  server::server_options o;
  for (const auto& l : c.coap.listen) o.listen.push_back({l.host, l.port});
  o.workers = c.workers != 0 ? c.workers : std::max(1u, std::thread::hardware_concurrency());
  o.endpoint = endpoint_config_from(c);
  o.grace = c.shutdown.grace;
  o.socket_receive_buffer = c.coap.socket_receive_buffer;
  o.socket_send_buffer = c.coap.socket_send_buffer;
  o.seed = std::random_device{}();
  const auto& d = c.coap.dtls;
  for (const auto& l : d.listen) o.dtls.listen.push_back({l.host, l.port});
  o.dtls.cert_file = d.cert_file;
  o.dtls.key_file = d.key_file;
  o.dtls.client_ca_file = d.client_ca_file;
  o.dtls.max_sessions = d.max_sessions;
  o.dtls.handshake_timeout = d.handshake_timeout;
  o.dtls.idle_timeout = d.idle_timeout;
  o.dtls.handshake_rate = d.handshake_rate;
  o.dtls.handshake_rate_per_source = d.handshake_rate_per_source;
  o.dtls.address_tier = o.endpoint.limits.address_tier;
  o.dtls.trusted_proxies = o.endpoint.limits.trusted_proxies;
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

runner::runner_options runner_options_from(const conf::config& c) {
  runner::runner_options o;
  o.alias_cache.ttl = c.alias_cache.ttl;
  o.alias_cache.negative_ttl = c.alias_cache.negative_ttl;
  o.alias_cache.max_entries = c.alias_cache.max_entries;
  o.local_timestamp = c.timestamp.source == "local";
  o.block_size = c.coap.block_size;
  o.content_cache_bytes = c.download.cache_bytes;
  o.read_max_age_s = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(c.coap.read_max_age).count());
  o.upstream_timeout = c.upstream.timeout;
  o.busy_max_age_s = endpoint_config_from(c).overload_max_age_s;
  o.write_limit.rate = c.limits.per_cik.writes;
  o.write_limit.burst = c.limits.per_cik.burst;
  o.write_limit.per_alias = c.limits.per_cik.per_alias;
  o.rejected_cik_ttl =
      std::chrono::duration_cast<std::chrono::milliseconds>(c.upstream.rejected_cik_ttl);
  return o;
}

runner::long_poll_options long_poll_options_from(const conf::config& c) {
  runner::long_poll_options o;
  o.poll_timeout = c.observe.poll_timeout;
  return o;
}

upstream::client_options long_call_client_options_from(const conf::config& c) {
  auto o = client_options_from(c);
  o.max_connections = c.upstream.long_connections;
  return o;
}

runner::breaker_options breaker_options_from(const conf::config& c) {
  runner::breaker_options o;
  o.failures_to_open = c.upstream.breaker_failures;
  o.open_for = std::chrono::duration_cast<std::chrono::milliseconds>(c.upstream.breaker_open_for);
  return o;
}

runner::admission_options admission_options_from(const conf::config& c, runner::lane which) {
  const auto pool =
      which == runner::lane::long_calls ? long_call_client_options_from(c) : client_options_from(c);
  runner::admission_options o;
  o.capacity = pool.max_connections + pool.max_queue;
  o.per_source_share = c.upstream.fair_share;
  o.unsafe_reserve = c.upstream.unsafe_reserve;
  return o;
}

upstream::client_options long_poll_client_options_from(const conf::config& c) {
  auto o = client_options_from(c);
  o.max_connections = 1;
  o.max_queue = 1;
  return o;
}

void apply_logging(const conf::config& c) {
  log::level lvl;
  if (log::parse_level(c.log.level, lvl)) log::set_level(lvl);
  log::set_json(c.log.format == "json");
}

std::shared_ptr<const server::psk_table> load_psk_file(const conf::config& c, std::string& error) {
  const auto& path = c.coap.dtls.psk_file;
  if (path.empty()) return std::make_shared<const server::psk_table>();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot read (coap.dtls.psk_file)";
    return nullptr;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_psk_text(text.str(), path, error);
}

std::shared_ptr<const server::psk_table> parse_psk_text(const std::string& text,
                                                        const std::string& source,
                                                        std::string& error) {
  auto parsed = server::parse_psk_file(text);
  if (!parsed.errors.empty()) {
    error = source + ":" + std::to_string(parsed.errors.front().line) + ": " +
            parsed.errors.front().problem;
    return nullptr;
  }
  return std::make_shared<const server::psk_table>(std::move(parsed.table));
}

std::vector<std::string> restart_only_changes(const conf::config& running,
                                              const conf::config& loaded) {
  std::vector<std::string> keys;
  auto check = [&keys](bool changed, const char* key) {
    if (changed) keys.emplace_back(key);
  };
  check(running.coap.listen != loaded.coap.listen, "coap.listen");
  check(running.coap.socket_receive_buffer != loaded.coap.socket_receive_buffer,
        "coap.socket_receive_buffer");
  check(running.coap.socket_send_buffer != loaded.coap.socket_send_buffer,
        "coap.socket_send_buffer");
  check(running.workers != loaded.workers, "workers");
  {
    // Every coaps key but psk_file, which a reload applies.
    auto a = running.coap.dtls;
    auto b = loaded.coap.dtls;
    a.psk_file = b.psk_file;
    check(a != b, "coap.dtls");
  }
  check(running.metrics.listen != loaded.metrics.listen, "metrics.listen");
  check(running.upstream.url != loaded.upstream.url, "upstream.url");
  check(running.upstream.tls != loaded.upstream.tls, "upstream.tls");
  return keys;
}

conf::config effective_after_reload(const conf::config& running, const conf::config& loaded) {
  auto e = loaded;
  e.coap.listen = running.coap.listen;
  e.coap.socket_receive_buffer = running.coap.socket_receive_buffer;
  e.coap.socket_send_buffer = running.coap.socket_send_buffer;
  e.workers = running.workers;
  e.coap.dtls = running.coap.dtls;
  e.coap.dtls.psk_file = loaded.coap.dtls.psk_file;
  e.metrics.listen = running.metrics.listen;
  e.upstream.url = running.upstream.url;
  e.upstream.tls = running.upstream.tls;
  return e;
}

}  // namespace gw::app
