#include "conf/schema.hpp"

#include <algorithm>
#include <limits>

#include "conf/value_syntax.hpp"
#include "gateway/core/source_limits.hpp"

namespace gw::conf {
namespace {

template <auto Member, auto... Rest>
constexpr auto& member_of(auto& object) {
  if constexpr (sizeof...(Rest) == 0) {
    return object.*Member;
  } else {
    return member_of<Rest...>(object.*Member);
  }
}

// at<&config::coap, &coap_config::ack_timeout> is the field_ref of config.coap.ack_timeout.
template <auto... Members>
constexpr auto& at(config& c) {
  return member_of<Members...>(c);
}

constexpr double ms = 1;
constexpr double s = 1000 * ms;
constexpr double min = 60 * s;
constexpr double h = 60 * min;
constexpr double day = 24 * h;
constexpr double KiB = 1024;
constexpr double MiB = 1024 * KiB;
constexpr double GiB = 1024 * MiB;

std::string separate_below_ack(const config& c) {
  if (c.coap.separate_response_after < c.coap.ack_timeout) return {};
  return "must be below coap.ack_timeout (" + format_duration(c.coap.ack_timeout) +
         "), or the empty ACK would come after the client's first retransmission";
}

std::string replay_within_ack(const config& c) {
  // The default is lowered to a smaller ack_timeout (app/settings.cpp), so that a config valid
  // before this key existed stays valid.
  if (c.coap.replay_window <= c.coap.ack_timeout ||
      c.coap.replay_window == coap_config{}.replay_window)
    return {};
  return "must be at most coap.ack_timeout (" + format_duration(c.coap.ack_timeout) +
         "): a safe request is cached only to absorb a burst of copies, not to serve stale values";
}

std::string dtls_key_with_cert(const config& c) {
  if (c.coap.dtls.cert_file.empty() == c.coap.dtls.key_file.empty()) return {};
  return "coap.dtls.cert_file and coap.dtls.key_file go together";
}

std::string dtls_has_credentials(const config& c) {
  if (c.coap.dtls.listen.empty() || !c.coap.dtls.psk_file.empty() || !c.coap.dtls.cert_file.empty())
    return {};
  return "needs coap.dtls.psk_file or coap.dtls.cert_file: a handshake has nothing to agree on";
}

std::string trusted_proxies_parse(const config& c) {
  std::string bad;
  if (core::parse_address_prefixes(c.coap.trusted_proxies, &bad)) return {};
  return "\"" + bad + "\" is not an address or address/prefix-length";
}

std::string block_size_power_of_two(const config& c) {
  auto size = c.coap.block_size;
  if ((size & (size - 1)) == 0) return {};
  // RFC 7959 §2.2: SZX encodes sizes 2^(SZX+4) only.
  return "must be one of 16, 32, 64, 128, 256, 512, 1024 (RFC 7959 §2.2)";
}

std::string max_age_whole_seconds(const config& c) {
  if (c.observe.max_age.count() % 1000 == 0) return {};
  return "must be whole seconds: Max-Age is sent in seconds (RFC 7252 §5.10.5)";
}

std::string read_max_age_whole_seconds(const config& c) {
  if (c.coap.read_max_age.count() % 1000 == 0) return {};
  return "must be whole seconds: Max-Age is sent in seconds (RFC 7252 §5.10.5)";
}

// One row per key, laid out as a table: path and kind; field, range and choices; doc line;
// the extra rule, if any.
// clang-format off
constexpr key_spec table[] = {
    {"workers", value_kind::count,
     at<&config::workers>, {0, 256}, {},
     "worker threads, each with its own socket, timers and upstream pool; 0 = one per CPU core"},

    {"log.level", value_kind::choice,
     at<&config::log, &log_config::level>, {}, "trace|debug|info|warn|error",
     "least severe message that is logged"},
    {"log.format", value_kind::choice,
     at<&config::log, &log_config::format>, {}, "text|json",
     "text for people, json (one object per line) for log collectors"},
    {"log.access", value_kind::boolean,
     at<&config::log, &log_config::access>, {}, {},
     "log one line per CoAP request (CIKs masked)"},

    {"coap.listen", value_kind::listen_list,
     at<&config::coap, &coap_config::listen>, {}, {},
     "UDP addresses to serve CoAP on; quote IPv6 forms; port 0 picks a free port"},
    {"coap.max_message_size", value_kind::size,
     at<&config::coap, &coap_config::max_message_size>, {64, 65507}, {},
     "largest CoAP datagram received or sent, in bytes"},
    {"coap.separate_response_after", value_kind::duration,
     at<&config::coap, &coap_config::separate_response_after>, {0, 60 * s}, {},
     "upstream wait before an empty ACK and a separate response (RFC 7252 §5.2.2)",
     separate_below_ack, "coap.ack_timeout"},
    {"coap.ack_timeout", value_kind::duration,
     at<&config::coap, &coap_config::ack_timeout>, {100 * ms, 60 * s}, {},
     "ACK_TIMEOUT: first wait before a CON is sent again (RFC 7252 §4.8)"},
    {"coap.ack_random_factor", value_kind::real,
     at<&config::coap, &coap_config::ack_random_factor>, {1.0, 4.0}, {},
     "ACK_RANDOM_FACTOR: spread of the first wait (RFC 7252 §4.8)"},
    {"coap.max_retransmit", value_kind::count,
     at<&config::coap, &coap_config::max_retransmit>, {0, 20}, {},
     "MAX_RETRANSMIT: times a CON is sent again before giving up (RFC 7252 §4.8)"},
    {"coap.dedup_cache_bytes", value_kind::size,
     at<&config::coap, &coap_config::dedup_cache_bytes>, {64 * KiB, 4 * GiB}, {},
     "memory bound of the replies kept to answer duplicate requests (RFC 7252 §4.5)"},
    {"coap.replay_window", value_kind::duration,
     at<&config::coap, &coap_config::replay_window>, {0, 60 * s}, {},
     "a copy of an answered GET or FETCH this long after its answer runs again (RFC 7252 §4.5)",
     replay_within_ack, "coap.ack_timeout"},
    {"coap.dedup_window", value_kind::duration,
     at<&config::coap, &coap_config::dedup_window>, {1 * s, 1 * h}, {},
     "how long a copy of a POST, PUT or DELETE is a duplicate, answered from the cache"},
    {"coap.block_size", value_kind::count,
     at<&config::coap, &coap_config::block_size>, {16, 1024}, {},
     "largest block the gateway sends or asks for (RFC 7959)",
     block_size_power_of_two, {}},
    {"coap.read_max_age", value_kind::duration,
     at<&config::coap, &coap_config::read_max_age>, {0, 1 * day}, {},
     "Max-Age of Read answers; 0 = do not reuse (RFC 7252 §5.10.5); Observe uses observe.max_age",
     read_max_age_whole_seconds, {}},
    {"coap.socket_receive_buffer", value_kind::size,
     at<&config::coap, &coap_config::socket_receive_buffer>, {0, 1 * GiB}, {},
     "receive buffer of each UDP socket (SO_RCVBUF; capped by net.core.rmem_max); 0 = system default"},
    {"coap.socket_send_buffer", value_kind::size,
     at<&config::coap, &coap_config::socket_send_buffer>, {0, 1 * GiB}, {},
     "send buffer of each UDP socket (SO_SNDBUF; capped by net.core.wmem_max); 0 = system default"},
    {"coap.amplification_factor", value_kind::count,
     at<&config::coap, &coap_config::amplification_factor>, {0, 100}, {},
     "bytes sent to an unverified source at most this many times its bytes received; 0 = off "
     "(RFC 7252 §11.3, RFC 9175 §2.4)"},
    {"coap.verified_idle", value_kind::duration,
     at<&config::coap, &coap_config::verified_idle>, {1 * s, 1 * day}, {},
     "a verified source (it ACKed or RSTed one of our CONs, echoed an Echo value or completed "
     "DTLS) idle this long is bound again"},
    {"coap.amplification_sources", value_kind::count,
     at<&config::coap, &coap_config::amplification_sources>, {16, 16 * 1024 * 1024}, {},
     "sources tracked for the amplification bound per worker; least recently seen evicted"},
    {"coap.dtls.listen", value_kind::optional_listen_list,
     at<&config::coap, &coap_config::dtls, &dtls_config::listen>, {}, {},
     "UDP addresses to serve coaps (DTLS 1.2) on, usually port 5684; empty = off",
     dtls_has_credentials, {}},
    {"coap.dtls.psk_file", value_kind::text,
     at<&config::coap, &coap_config::dtls, &dtls_config::psk_file>, {}, {},
     "pre-shared keys, one 'identity: hex:KEY' or 'identity: text:KEY' a line; re-read on SIGHUP"},
    {"coap.dtls.cert_file", value_kind::text,
     at<&config::coap, &coap_config::dtls, &dtls_config::cert_file>, {}, {},
     "PEM certificate chain of the gateway (ECDSA or RSA); empty = PSK only",
     dtls_key_with_cert, {}},
    {"coap.dtls.key_file", value_kind::text,
     at<&config::coap, &coap_config::dtls, &dtls_config::key_file>, {}, {},
     "PEM private key of cert_file"},
    {"coap.dtls.client_ca_file", value_kind::text,
     at<&config::coap, &coap_config::dtls, &dtls_config::client_ca_file>, {}, {},
     "PEM CAs; when set, certificate handshakes require a client certificate they signed"},
    {"coap.dtls.max_sessions", value_kind::count,
     at<&config::coap, &coap_config::dtls, &dtls_config::max_sessions>, {1, 10000000}, {},
     "per worker: DTLS sessions (handshakes included) at most; beyond it new ones are ignored"},
    {"coap.dtls.handshake_timeout", value_kind::duration,
     at<&config::coap, &coap_config::dtls, &dtls_config::handshake_timeout>, {1 * s, 5 * min}, {},
     "a handshake not finished this long after its cookie round trip is dropped"},
    {"coap.dtls.idle_timeout", value_kind::duration,
     at<&config::coap, &coap_config::dtls, &dtls_config::idle_timeout>, {1 * s, 1 * day}, {},
     "a session that received nothing this long is closed (close_notify sent)"},
    {"coap.dtls.handshake_rate", value_kind::count,
     at<&config::coap, &coap_config::dtls, &dtls_config::handshake_rate>, {0, 1000000}, {},
     "per worker: new sessions per second from one source address at most; 0 = no limit"},
    {"coap.dtls.handshake_rate_per_source", value_kind::count,
     at<&config::coap, &coap_config::dtls, &dtls_config::handshake_rate_per_source>, {0, 1000000},
     {}, "per worker: new sessions per second from one address:port at most; 0 = no limit"},
    {"coap.trusted_proxies", value_kind::text,
     at<&config::coap, &coap_config::trusted_proxies>, {}, {},
     "comma-separated addresses or prefixes exempt from the per-address limits (a UDP "
     "balancer, a carrier-grade NAT)",
     trusted_proxies_parse, {}},

    {"upstream.url", value_kind::url,
     at<&config::upstream, &upstream_config::url>, {}, {},
     "base URL of the One Platform HTTP API"},
    {"upstream.timeout", value_kind::duration,
     at<&config::upstream, &upstream_config::timeout>, {100 * ms, 10 * min}, {},
     "deadline of one upstream answer; past it the client gets 5.04"},
    {"upstream.connect_timeout", value_kind::duration,
     at<&config::upstream, &upstream_config::connect_timeout>, {100 * ms, 5 * min}, {},
     "deadline of resolving, connecting and the TLS handshake"},
    {"upstream.connections", value_kind::count,
     at<&config::upstream, &upstream_config::connections>, {1, 10000}, {},
     "keep-alive connections per worker"},
    {"upstream.queue", value_kind::count,
     at<&config::upstream, &upstream_config::queue>, {0, 1000000}, {},
     "requests waiting for a free connection, per worker; beyond it 5.03"},
    {"upstream.idle_timeout", value_kind::duration,
     at<&config::upstream, &upstream_config::idle_timeout>, {1 * s, 1 * h}, {},
     "an unused keep-alive connection is closed after this long"},
    {"upstream.long_connections", value_kind::count,
     at<&config::upstream, &upstream_config::long_connections>, {1, 10000}, {},
     "per worker, connections of their own for calls that may take long (RPC, Activate)"},
    {"upstream.fair_share", value_kind::real,
     at<&config::upstream, &upstream_config::fair_share>, {0, 1}, {},
     "per worker and lane: the part of connections + queue one source address (IPv6 /64) may "
     "hold, at least 4 requests; beyond it 5.03"},
    {"upstream.unsafe_reserve", value_kind::real,
     at<&config::upstream, &upstream_config::unsafe_reserve>, {0, 0.5}, {},
     "per worker and lane: the part of connections + queue only writes may take, so that "
     "reads are shed first (5.03) when it fills"},
    {"upstream.breaker_failures", value_kind::count,
     at<&config::upstream, &upstream_config::breaker_failures>, {0, 1000}, {},
     "consecutive upstream failures that make calls fail fast with 5.03; 0 = never"},
    {"upstream.breaker_open_for", value_kind::duration,
     at<&config::upstream, &upstream_config::breaker_open_for>, {100 * ms, 10 * min}, {},
     "first fail-fast period before one probe call; doubles while probes fail (to 60s)"},
    {"upstream.rejected_cik_ttl", value_kind::duration,
     at<&config::upstream, &upstream_config::rejected_cik_ttl>, {0, 1 * h}, {},
     "a CIK upstream answered 401 is refused this long without asking; 0 = not at all"},
    {"upstream.tls.verify", value_kind::boolean,
     at<&config::upstream, &upstream_config::tls, &tls_config::verify>, {}, {},
     "verify the server certificate and host name"},
    {"upstream.tls.ca_file", value_kind::text,
     at<&config::upstream, &upstream_config::tls, &tls_config::ca_file>, {}, {},
     "PEM file of trusted CAs; empty = the system store"},
    {"upstream.tls.cert_file", value_kind::text,
     at<&config::upstream, &upstream_config::tls, &tls_config::cert_file>, {}, {},
     "PEM client certificate; empty = none"},
    {"upstream.tls.key_file", value_kind::text,
     at<&config::upstream, &upstream_config::tls, &tls_config::key_file>, {}, {},
     "PEM private key of cert_file"},

    {"alias_cache.ttl", value_kind::duration,
     at<&config::alias_cache, &alias_cache_config::ttl>, {0, 1 * day}, {},
     "how long an alias found upstream is remembered; 0 = not at all"},
    {"alias_cache.negative_ttl", value_kind::duration,
     at<&config::alias_cache, &alias_cache_config::negative_ttl>, {0, 1 * day}, {},
     "how long a missing alias is remembered; 0 = not at all"},
    {"alias_cache.max_entries", value_kind::count,
     at<&config::alias_cache, &alias_cache_config::max_entries>, {0, 10000000}, {},
     "aliases remembered at most"},

    {"timestamp.source", value_kind::choice,
     at<&config::timestamp, &timestamp_config::source>, {}, "upstream|local",
     "clock behind /ts: the One Platform's, or this host's"},

    {"block.max_body", value_kind::size,
     at<&config::block, &block_config::max_body>, {1 * KiB, 64 * MiB}, {},
     "largest request body assembled from Block1 transfers (RFC 7959)"},
    {"block.store_bytes", value_kind::size,
     at<&config::block, &block_config::store_bytes>, {0, 16 * GiB}, {},
     "per worker: memory bound of responses kept for Block2 follow-ups"},
    {"block.max_transfers", value_kind::count,
     at<&config::block, &block_config::max_transfers>, {1, 1000000}, {},
     "blockwise transfers in progress at most"},
    {"block.max_transfers_per_client", value_kind::count,
     at<&config::block, &block_config::max_transfers_per_client>, {1, 10000}, {},
     "blockwise transfers in progress at most for one client"},
    {"block.reserve_bytes", value_kind::size,
     at<&config::block, &block_config::reserve_bytes>, {0, 64 * MiB}, {},
     "room held in cache_bytes (at most all of it) for each POST's answer while it runs"},

    {"observe.max_age", value_kind::duration,
     at<&config::observe, &observe_config::max_age>, {1 * s, 255 * s}, {},
     "Max-Age of notifications; one byte on the wire, so at most 255s",
     max_age_whole_seconds, {}},
    {"observe.poll_timeout", value_kind::duration,
     at<&config::observe, &observe_config::poll_timeout>, {1 * s, 300 * s}, {},
     "long-poll timeout asked of the upstream for each observation"},
    {"observe.max_observers", value_kind::count,
     at<&config::observe, &observe_config::max_observers>, {0, 10000000}, {},
     "observations registered at most"},
    {"observe.max_observers_per_client", value_kind::count,
     at<&config::observe, &observe_config::max_observers_per_client>, {0, 100000}, {},
     "observations registered at most for one client"},
    {"observe.max_resources", value_kind::count,
     at<&config::observe, &observe_config::max_resources>, {1, 100000}, {},
     "per worker: observed dataports at most, one upstream long-poll each"},
    {"observe.non_notifications", value_kind::boolean,
     at<&config::observe, &observe_config::non_notifications>, {}, {},
     "NON notifications for relations registered with NON requests, once the client's round "
     "trip is known, one per round trip, a CON at least every max_age; false: all CON"},

    {"limits.per_source.in_flight", value_kind::count,
     at<&config::limits, &limits_config::per_source, &source_tier_config::in_flight>,
     {1, 1000000}, {},
     "per worker: requests of one source (address:port) in progress upstream at most; beyond "
     "it 5.03"},
    {"limits.per_source.safe_requests", value_kind::count,
     at<&config::limits, &limits_config::per_source, &source_tier_config::safe_requests>,
     {1, 1000000}, {},
     "per worker: GETs of one source remembered for duplicates while they run; beyond it 5.03"},
    {"limits.per_source.rate", value_kind::count,
     at<&config::limits, &limits_config::per_source, &source_tier_config::rate>,
     {0, 100000000}, {},
     "per worker: new requests per second from one source (token bucket); 0 = no limit"},
    {"limits.per_source.burst", value_kind::count,
     at<&config::limits, &limits_config::per_source, &source_tier_config::burst>,
     {1, 1000000000}, {},
     "per worker: token bucket size of one source"},
    {"limits.per_address.enabled", value_kind::boolean,
     at<&config::limits, &limits_config::per_address, &address_tier_config::enabled>, {}, {},
     "the per-address tier (IPv4 address, IPv6 /64); false behind a balancer that hides "
     "client addresses (or list it in coap.trusted_proxies)"},
    {"limits.per_address.block1_transfers", value_kind::count,
     at<&config::limits, &limits_config::per_address, &address_tier_config::block1_transfers>,
     {1, 1000000}, {},
     "per worker: Block1 uploads in progress from one address at most"},
    {"limits.per_address.observers", value_kind::count,
     at<&config::limits, &limits_config::per_address, &address_tier_config::observers>,
     {0, 10000000}, {},
     "per worker: observations registered from one address at most"},
    {"limits.per_address.in_flight", value_kind::count,
     at<&config::limits, &limits_config::per_address, &address_tier_config::in_flight>,
     {1, 10000000}, {},
     "per worker: requests of one address in progress upstream at most; beyond it 5.03"},
    {"limits.per_address.safe_requests", value_kind::count,
     at<&config::limits, &limits_config::per_address, &address_tier_config::safe_requests>,
     {1, 10000000}, {},
     "per worker: GETs of one address remembered for duplicates while they run"},
    {"limits.per_address.rate", value_kind::count,
     at<&config::limits, &limits_config::per_address, &address_tier_config::rate>,
     {0, 100000000}, {},
     "per worker: new requests per second from one address (token bucket); 0 = no limit"},
    {"limits.per_address.burst", value_kind::count,
     at<&config::limits, &limits_config::per_address, &address_tier_config::burst>,
     {1, 1000000000}, {},
     "per worker: token bucket size of one address"},
    {"limits.per_cik.writes", value_kind::real,
     at<&config::limits, &limits_config::per_cik, &cik_limit_config::writes>, {0, 1000}, {},
     "per worker: writes per second per CIK (and alias); beyond it 4.29; 0 = off"},
    {"limits.per_cik.burst", value_kind::count,
     at<&config::limits, &limits_config::per_cik, &cik_limit_config::burst>, {1, 1000000}, {},
     "per worker: writes of one CIK (and alias) at once before the rate applies"},
    {"limits.per_cik.per_alias", value_kind::boolean,
     at<&config::limits, &limits_config::per_cik, &cik_limit_config::per_alias>, {}, {},
     "the write limit counts per CIK and alias (true) or per CIK (false)"},

    {"download.cache_bytes", value_kind::size,
     at<&config::download, &download_config::cache_bytes>, {0, 16 * GiB}, {},
     "per worker: memory bound of Download Content windows kept for the next blocks"},

    {"metrics.listen", value_kind::optional_listen,
     at<&config::metrics, &metrics_config::listen>, {}, {},
     "host:port of the Prometheus metrics endpoint; empty = off"},

    {"shutdown.grace", value_kind::duration,
     at<&config::shutdown, &shutdown_config::grace>, {0, 10 * min}, {},
     "on SIGTERM, time in-flight requests get to finish"},
    {"shutdown.observers", value_kind::choice,
     at<&config::shutdown, &shutdown_config::observers>, {}, "keep|end",
     "on SIGTERM: keep observations for the next start, or end them with a final 5.03"},

    {"state.directory", value_kind::text,
     at<&config::state, &state_config::directory>, {}, {},
     "directory of the state file that carries observations across a restart; empty = off"},

    {"watchdog.max_stall", value_kind::duration,
     at<&config::watchdog, &watchdog_config::max_stall>, {1 * s, 10 * min}, {},
     "a worker loop stuck this long fails /healthz and stops the systemd watchdog pings"},
};
// clang-format on

// Each kind stores into one field type, and every upper bound fits the field.
constexpr bool table_is_consistent() {
  for (const key_spec& k : table) {
    bool ok = false;
    switch (k.kind) {
      case value_kind::count:
      case value_kind::size:
        ok = (k.stores<std::uint32_t>() &&
              k.range.hi <= std::numeric_limits<std::uint32_t>::max()) ||
             k.stores<std::uint64_t>();
        break;
      case value_kind::duration:
        ok = k.stores<duration>();
        break;
      case value_kind::real:
        ok = k.stores<double>();
        break;
      case value_kind::boolean:
        ok = k.stores<bool>();
        break;
      case value_kind::text:
      case value_kind::choice:
      case value_kind::url:
      case value_kind::optional_listen:
        ok = k.stores<std::string>();
        break;
      case value_kind::listen_list:
      case value_kind::optional_listen_list:
        ok = k.stores<std::vector<listen_address>>();
        break;
    }
    if (!ok || k.range.lo > k.range.hi) return false;
  }
  return true;
}
static_assert(table_is_consistent());

constexpr renamed_key renamed[] = {
    {"block.cache_bytes", "block.store_bytes download.cache_bytes",
     "it bounded two stores (Block2 responses and Download Content windows)"},
    {"observe.max_polls", "observe.max_resources",
     "it counts observed dataports per worker, each with one long-poll"},
};

}  // namespace

std::span<const key_spec> schema() {
  return table;
}

std::span<const renamed_key> renamed_keys() {
  return renamed;
}

const renamed_key* find_renamed(std::string_view path) {
  for (const auto& r : renamed)
    if (r.old_path == path) return &r;
  return nullptr;
}

const key_spec* find_key(std::string_view path) {
  for (const key_spec& k : table) {
    if (k.path == path) return &k;
  }
  return nullptr;
}

bool is_section(std::string_view path) {
  if (path.empty()) return true;
  for (const key_spec& k : table) {
    if (k.path.size() > path.size() && k.path.starts_with(path) && k.path[path.size()] == '.') {
      return true;
    }
  }
  return false;
}

std::vector<std::string_view> names_under(std::string_view section) {
  std::vector<std::string_view> names;
  for (const key_spec& k : table) {
    std::string_view rest = k.path;
    if (!section.empty()) {
      if (!rest.starts_with(section) || rest.size() <= section.size() ||
          rest[section.size()] != '.') {
        continue;
      }
      rest.remove_prefix(section.size() + 1);
    }
    std::string_view name = rest.substr(0, rest.find('.'));
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

}  // namespace gw::conf
