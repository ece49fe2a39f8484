#include "conf/schema.hpp"

#include <catch2/catch.hpp>

#include <map>

#include "conf/load.hpp"
#include "conf/value_syntax.hpp"

namespace gw::conf {
namespace {

// "upstream.tls.verify", "false" -> "upstream:\n  tls:\n    verify: false\n"
std::string nested(std::string_view path, std::string_view value) {
  std::string yaml;
  std::string indent;
  for (std::size_t dot; (dot = path.find('.')) != std::string_view::npos;) {
    yaml += indent + std::string(path.substr(0, dot)) + ":\n";
    indent += "  ";
    path.remove_prefix(dot + 1);
  }
  return yaml + indent + std::string(path) + ": " + std::string(value) + "\n";
}

std::string bound_text(const key_spec& k, double bound) {
  switch (k.kind) {
    case value_kind::real:
      return std::to_string(bound);
    case value_kind::duration:
      return std::to_string(static_cast<std::uint64_t>(bound)) + "ms";
    default:
      return std::to_string(static_cast<std::uint64_t>(bound));
  }
}

TEST_CASE("the allowed ranges are the documented ones", "[conf][schema]") {
  const std::map<std::string, std::string> documented{
      {"workers", "0 to 256"},
      {"coap.max_message_size", "64 to 65507"},
      {"coap.separate_response_after", "0s to 1m"},
      {"coap.ack_timeout", "100ms to 1m"},
      {"coap.ack_random_factor", "1.0 to 4.0"},
      {"coap.max_retransmit", "0 to 20"},
      {"coap.dedup_cache_bytes", "64KiB to 4GiB"},
      {"coap.replay_window", "0s to 1m"},
      {"coap.dedup_window", "1s to 1h"},
      {"coap.block_size", "16 to 1024"},
      {"coap.read_max_age", "0s to 1d"},
      {"coap.socket_receive_buffer", "0 to 1GiB"},
      {"coap.socket_send_buffer", "0 to 1GiB"},
      {"coap.amplification_factor", "0 to 100"},
      {"coap.verified_idle", "1s to 1d"},
      {"coap.amplification_sources", "16 to 16777216"},
      {"coap.dtls.max_sessions", "1 to 10000000"},
      {"coap.dtls.handshake_timeout", "1s to 5m"},
      {"coap.dtls.idle_timeout", "1s to 1d"},
      {"coap.dtls.handshake_rate", "0 to 1000000"},
      {"coap.dtls.handshake_rate_per_source", "0 to 1000000"},
      {"limits.per_source.in_flight", "1 to 1000000"},
      {"limits.per_source.safe_requests", "1 to 1000000"},
      {"limits.per_source.rate", "0 to 100000000"},
      {"limits.per_source.burst", "1 to 1000000000"},
      {"limits.per_address.block1_transfers", "1 to 1000000"},
      {"limits.per_address.observers", "0 to 10000000"},
      {"limits.per_address.in_flight", "1 to 10000000"},
      {"limits.per_address.safe_requests", "1 to 10000000"},
      {"limits.per_address.rate", "0 to 100000000"},
      {"limits.per_address.burst", "1 to 1000000000"},
      {"limits.per_cik.writes", "0.0 to 1000.0"},
      {"limits.per_cik.burst", "1 to 1000000"},
      {"upstream.timeout", "100ms to 10m"},
      {"upstream.connect_timeout", "100ms to 5m"},
      {"upstream.connections", "1 to 10000"},
      {"upstream.queue", "0 to 1000000"},
      {"upstream.idle_timeout", "1s to 1h"},
      {"upstream.long_connections", "1 to 10000"},
      {"upstream.fair_share", "0.0 to 1.0"},
      {"upstream.unsafe_reserve", "0.0 to 0.5"},
      {"upstream.breaker_failures", "0 to 1000"},
      {"upstream.breaker_open_for", "100ms to 10m"},
      {"upstream.rejected_cik_ttl", "0s to 1h"},
      {"alias_cache.ttl", "0s to 1d"},
      {"alias_cache.negative_ttl", "0s to 1d"},
      {"alias_cache.max_entries", "0 to 10000000"},
      {"block.max_body", "1KiB to 64MiB"},
      {"block.store_bytes", "0 to 16GiB"},
      {"download.cache_bytes", "0 to 16GiB"},
      {"block.max_transfers", "1 to 1000000"},
      {"block.max_transfers_per_client", "1 to 10000"},
      {"block.reserve_bytes", "0 to 64MiB"},
      {"observe.max_age", "1s to 255s"},
      {"observe.poll_timeout", "1s to 5m"},
      {"observe.max_observers", "0 to 10000000"},
      {"observe.max_observers_per_client", "0 to 100000"},
      {"observe.max_resources", "1 to 100000"},
      {"shutdown.grace", "0s to 10m"},
      {"watchdog.max_stall", "1s to 10m"},
  };
  std::map<std::string, std::string> described;
  for (const key_doc& d : describe_keys()) {
    if (!d.allowed.empty()) described[d.path] = d.allowed;
  }
  CHECK(described == documented);
}

TEST_CASE("every ranged key takes both bounds and refuses just past them", "[conf][schema]") {
  for (const key_spec& k : schema()) {
    bool ranged = k.kind == value_kind::count || k.kind == value_kind::size ||
                  k.kind == value_kind::duration || k.kind == value_kind::real;
    if (!ranged) continue;
    CAPTURE(k.path);
    // Bounds that other rules forbid on their own are not the range's business.
    double lo = k.range.lo;
    double hi = k.range.hi;
    if (k.path == "coap.separate_response_after") hi = 1000;  // below the default ack_timeout
    if (k.path == "coap.ack_timeout") lo = 1001;              // above the default separate_...
    if (k.path == "coap.replay_window") hi = 2000;            // at most the default ack_timeout
    for (double ok : {lo, hi}) {
      load_result r = load_string(nested(k.path, bound_text(k, ok)));
      if (!r.ok()) UNSCOPED_INFO(r.errors()[0].to_string());
      CHECK(r.ok());
    }
    double step = k.kind == value_kind::real ? 0.5 : 1;
    load_result over = load_string(nested(k.path, bound_text(k, k.range.hi + step)));
    REQUIRE_FALSE(over.ok());
    CHECK(over.errors()[0].problem.find("is out of range") != std::string::npos);
    if (k.range.lo >= step) {
      load_result under = load_string(nested(k.path, bound_text(k, k.range.lo - step)));
      REQUIRE_FALSE(under.ok());
      CHECK(under.errors()[0].problem.find("is out of range") != std::string::npos);
    }
  }
}

TEST_CASE("every key written as its default reads back as the default", "[conf][schema]") {
  config defaults;
  for (const key_spec& k : schema()) {
    CAPTURE(k.path);
    // Quoted, so that the loader cannot lean on YAML's own reading of the text.
    std::string value = format_value(k, defaults);
    bool as_is = k.kind == value_kind::listen_list || k.kind == value_kind::optional_listen_list ||
                 value == "\"\"";
    load_result r = load_string(nested(k.path, as_is ? value : "\"" + value + "\""));
    REQUIRE(r.ok());
    CHECK(r.get() == config{});
  }
}

TEST_CASE("sections are the prefixes of key paths", "[conf][schema]") {
  CHECK(is_section(""));
  CHECK(is_section("coap"));
  CHECK(is_section("upstream"));
  CHECK(is_section("upstream.tls"));
  CHECK_FALSE(is_section("upstream.tls.verify"));
  CHECK_FALSE(is_section("coap.listen"));
  CHECK_FALSE(is_section("coa"));
  CHECK_FALSE(is_section("upstream.t"));
  CHECK(names_under("") == std::vector<std::string_view>{"workers", "log", "coap", "upstream",
                                                         "alias_cache", "timestamp", "block",
                                                         "observe", "limits", "download", "metrics",
                                                         "shutdown", "state", "watchdog"});
  CHECK(names_under("upstream.tls") ==
        std::vector<std::string_view>{"verify", "ca_file", "cert_file", "key_file"});
  CHECK(find_key("coap.ack_timeout") != nullptr);
  CHECK(find_key("coap") == nullptr);
}

TEST_CASE("describe_keys documents every key with its default", "[conf][schema]") {
  std::vector<key_doc> docs = describe_keys();
  REQUIRE(docs.size() == schema().size());
  std::map<std::string, key_doc> by_path;
  for (const key_doc& d : docs) {
    CAPTURE(d.path);
    CHECK_FALSE(d.doc.empty());
    CHECK_FALSE(d.expects.empty());
    CHECK(by_path.emplace(d.path, d).second);
  }
  CHECK(by_path["workers"].default_value == "0");
  CHECK(by_path["coap.listen"].default_value == "[\"0.0.0.0:5683\", \"[::]:5683\"]");
  CHECK(by_path["coap.ack_timeout"].default_value == "2s");
  CHECK(by_path["coap.ack_random_factor"].default_value == "1.5");
  CHECK(by_path["coap.dedup_cache_bytes"].default_value == "16MiB");
  CHECK(by_path["upstream.tls.verify"].default_value == "true");
  CHECK(by_path["upstream.tls.ca_file"].default_value == "\"\"");
  CHECK(by_path["log.level"].expects == "one of trace, debug, info, warn, error");
  CHECK(by_path["observe.max_age"].default_value == "2m");
}

}  // namespace
}  // namespace gw::conf
