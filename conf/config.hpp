#pragma once
// The one config struct. Every key of the YAML file maps to one field here; defaults live here.
// conf/gateway.example.yaml documents every key with its default.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace gw::conf {

using duration = std::chrono::milliseconds;

struct listen_address {
  std::string host;  // "0.0.0.0", "::", "127.0.0.1" (IPv6 written "[::1]:5683" in YAML)
  std::uint16_t port = 5683;
  friend bool operator==(const listen_address&, const listen_address&) = default;
};

// coaps (DTLS 1.2, RFC 7252 §9; docs/dtls.md). Off while `listen` is empty.
struct dtls_config {
  std::vector<listen_address> listen;
  std::string psk_file;                // lines "identity: hex:KEY" or "identity: text:KEY"
  std::string cert_file;               // PEM chain (ECDSA or RSA); empty = PSK only
  std::string key_file;                // PEM private key of cert_file
  std::string client_ca_file;          // PEM CAs; set = client certificates are required
  std::uint32_t max_sessions = 10000;  // per worker, handshakes included
  duration handshake_timeout{10000};
  duration idle_timeout{600000};
  std::uint32_t handshake_rate = 20;  // new sessions per second per source address; 0 = no limit
  std::uint32_t handshake_rate_per_source = 2;  // the same per address:port; 0 = no limit
  friend bool operator==(const dtls_config&, const dtls_config&) = default;
};

struct coap_config {
  std::vector<listen_address> listen{{"0.0.0.0", 5683}, {"::", 5683}};
  std::uint32_t max_message_size = 1152;
  duration separate_response_after{1000};
  // RFC 7252 §4.8 transmission parameters.
  duration ack_timeout{2000};
  double ack_random_factor = 1.5;
  std::uint32_t max_retransmit = 4;
  // Memory bound of the duplicate-detection response cache.
  std::uint64_t dedup_cache_bytes = 16 * 1024 * 1024;
  // A copy of an answered GET runs again after this long (at most ack_timeout).
  duration replay_window{1000};
  // A copy of a write is a duplicate this long: EXCHANGE_LIFETIME with the default parameters.
  duration dedup_window{247000};
  std::uint32_t block_size = 1024;  // 16..1024, a power of two
  // Max-Age of Read answers: a dataport value may change at any moment (translate/dataport.hpp).
  duration read_max_age{0};
  // SO_RCVBUF / SO_SNDBUF of each worker's sockets; 0 = the system default.
  std::uint64_t socket_receive_buffer = 4 * 1024 * 1024;
  std::uint64_t socket_send_buffer = 4 * 1024 * 1024;
  // The amplification bound (gateway/core/amplification.hpp): bytes sent to an unverified
  // source at most this many times the bytes received from it; 0 = off. 3 is the factor of
  // QUIC (RFC 9000 §8.1) and the one RFC 9175 §2.4 suggests.
  std::uint32_t amplification_factor = 3;
  duration verified_idle{600000};               // a verified source idle this long is bound again
  std::uint32_t amplification_sources = 65536;  // sources tracked per worker
  dtls_config dtls;
  // Comma-separated addresses or prefixes ("10.0.0.5, 2001:db8::/32") exempt from the
  // per-address tier of limits: a UDP balancer or a carrier-grade NAT every device comes from.
  std::string trusted_proxies;
  friend bool operator==(const coap_config&, const coap_config&) = default;
};

struct tls_config {
  bool verify = true;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  friend bool operator==(const tls_config&, const tls_config&) = default;
};

struct upstream_config {
  std::string url = "https://m2.exosite.com";
  duration timeout{10000};
  duration connect_timeout{5000};
  std::uint32_t connections = 16;  // per worker
  std::uint32_t queue = 1024;      // requests waiting for a connection, per worker
  duration idle_timeout{30000};
  // Per worker, a pool of their own for the calls that may take long (RPC, Activate).
  std::uint32_t long_connections = 4;
  // Admission to each lane (connections + queue), per worker: the share one source address
  // may hold, and the part kept for unsafe requests so that safe ones are shed first.
  double fair_share = 0.125;
  double unsafe_reserve = 0.125;
  std::uint32_t breaker_failures = 5;  // consecutive failures that open the breaker; 0 = never
  duration breaker_open_for{5000};
  duration rejected_cik_ttl{30000};  // a CIK answered 401 is refused without asking this long
  tls_config tls;
  friend bool operator==(const upstream_config&, const upstream_config&) = default;
};

struct alias_cache_config {
  duration ttl{300000};
  duration negative_ttl{30000};
  std::uint32_t max_entries = 100000;
  friend bool operator==(const alias_cache_config&, const alias_cache_config&) = default;
};

struct timestamp_config {
  std::string source = "upstream";  // upstream | local
  friend bool operator==(const timestamp_config&, const timestamp_config&) = default;
};

struct block_config {
  std::uint64_t max_body = 64 * 1024;
  std::uint64_t store_bytes = 32 * 1024 * 1024;  // per worker
  std::uint32_t max_transfers = 10000;
  std::uint32_t max_transfers_per_client = 16;
  // Held for the answer of each POST while it runs upstream (gateway/core/block_layer.hpp).
  std::uint64_t reserve_bytes = 16 * 1024;
  friend bool operator==(const block_config&, const block_config&) = default;
};

struct observe_config {
  duration max_age{120000};  // at most 255 s: notifications carry a one-byte Max-Age
  duration poll_timeout{60000};
  std::uint32_t max_observers = 100000;
  std::uint32_t max_observers_per_client = 64;
  std::uint32_t max_resources = 1000;  // per worker: one upstream long-poll each
  bool non_notifications = true;       // gateway/core/observe_registry.hpp
  friend bool operator==(const observe_config&, const observe_config&) = default;
};

// Fair limits in two tiers, per worker (gateway/core/source_limits.hpp). The strict per-source
// tier of Block1 transfers and Observe relations is block.max_transfers_per_client and
// observe.max_observers_per_client.
struct source_tier_config {
  std::uint32_t in_flight = 64;
  std::uint32_t safe_requests = 64;
  std::uint32_t rate = 100000;  // new requests per second; 0 = no bucket
  std::uint32_t burst = 200000;
  friend bool operator==(const source_tier_config&, const source_tier_config&) = default;
};

struct address_tier_config {
  bool enabled = true;
  std::uint32_t block1_transfers = 256;
  std::uint32_t observers = 4096;
  std::uint32_t in_flight = 1024;
  std::uint32_t safe_requests = 1024;
  std::uint32_t rate = 1000000;
  std::uint32_t burst = 2000000;
  friend bool operator==(const address_tier_config&, const address_tier_config&) = default;
};

// Writes per second per CIK and alias (or CIK), off by default: Exosite's data interface treats
// more than one write a second to a dataport as undefined.
struct cik_limit_config {
  double writes = 0;  // per second; 0 = off
  std::uint32_t burst = 1;
  bool per_alias = true;
  friend bool operator==(const cik_limit_config&, const cik_limit_config&) = default;
};

struct limits_config {
  source_tier_config per_source;
  address_tier_config per_address;
  cik_limit_config per_cik;
  friend bool operator==(const limits_config&, const limits_config&) = default;
};

struct download_config {
  std::uint64_t cache_bytes = 32 * 1024 * 1024;  // per worker
  friend bool operator==(const download_config&, const download_config&) = default;
};

struct log_config {
  std::string level = "info";   // trace | debug | info | warn | error
  std::string format = "text";  // text | json
  bool access = false;
  friend bool operator==(const log_config&, const log_config&) = default;
};

struct metrics_config {
  std::string listen;  // "host:port"; empty = off
  friend bool operator==(const metrics_config&, const metrics_config&) = default;
};

struct shutdown_config {
  duration grace{5000};
  // keep: observer relations are written to the state file and restored at the next start (a
  // restart or upgrade on the same host). end: every observer gets a final 5.03 without Observe
  // (an instance leaving for good: the client re-registers at once through the balancer).
  std::string observers = "keep";  // keep | end
  friend bool operator==(const shutdown_config&, const shutdown_config&) = default;
};

struct state_config {
  // Where the state file that carries observations and recent writes across a restart lives;
  // the unit's StateDirectory= (docs/operations.md).
  std::string directory = "/var/lib/coap-gateway";
  friend bool operator==(const state_config&, const state_config&) = default;
};

struct watchdog_config {
  // A worker whose loop has not turned for this long makes /healthz answer 503 and stops the
  // systemd watchdog pings; keep it below the unit's WatchdogSec (30s).
  duration max_stall{5000};
  friend bool operator==(const watchdog_config&, const watchdog_config&) = default;
};

struct config {
  std::uint32_t workers = 0;  // 0 = one per core
  log_config log;
  coap_config coap;
  upstream_config upstream;
  alias_cache_config alias_cache;
  timestamp_config timestamp;
  block_config block;
  download_config download;
  observe_config observe;
  limits_config limits;
  metrics_config metrics;
  shutdown_config shutdown;
  state_config state;
  watchdog_config watchdog;
  friend bool operator==(const config&, const config&) = default;
};

}  // namespace gw::conf
