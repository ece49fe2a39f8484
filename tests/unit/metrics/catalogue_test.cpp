// The one list of metrics: what it holds, and the rules a scraper relies on (names, label names,
// histogram bounds), checked for every entry so a new metric cannot break them.
#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <catch2/catch.hpp>

#include "metrics/metrics.hpp"

namespace m = gw::metrics;

namespace {

bool is_metric_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool is_label_name(std::string_view s) {
  return is_metric_name(s) && s.find(':') == std::string_view::npos && !s.starts_with("__");
}

std::string describe_entry(const m::descriptor& d) {
  std::string out(d.name);
  out += d.type == m::kind::counter ? " counter"
         : d.type == m::kind::gauge ? " gauge"
                                    : " histogram";
  for (auto l : d.label_list()) out += " " + std::string(l);
  return out;
}

}  // namespace

TEST_CASE("the catalogue lists every metric the gateway exports, in order") {
  std::vector<std::string> entries;
  for (const auto& d : m::catalogue) entries.push_back(describe_entry(d));
  CHECK(entries == std::vector<std::string>{
                       "coap_gateway_requests_total counter procedure code",
                       "coap_gateway_upstream_requests_total counter status",
                       "coap_gateway_request_duration_seconds histogram",
                       "coap_gateway_upstream_duration_seconds histogram",
                       "coap_gateway_duplicates_total counter",
                       "coap_gateway_retransmissions_total counter",
                       "coap_gateway_separate_responses_total counter",
                       "coap_gateway_non_notifications_total counter",
                       "coap_gateway_malformed_total counter",
                       "coap_gateway_udp_receive_drops_total counter",
                       "coap_gateway_rst_sent_total counter",
                       "coap_gateway_rst_received_total counter",
                       "coap_gateway_gave_up_total counter",
                       "coap_gateway_overloaded_total counter",
                       "coap_gateway_amplification_skipped_total counter",
                       "coap_gateway_amplification_held_bytes_total counter",
                       "coap_gateway_verified_sources gauge",
                       "coap_gateway_unmatched_acks_total counter",
                       "coap_gateway_limited_total counter limit tier",
                       "coap_gateway_requests_in_flight gauge",
                       "coap_gateway_safe_requests_running gauge",
                       "coap_gateway_rate_buckets gauge",
                       "coap_gateway_verified_by_ack_total counter",
                       "coap_gateway_verified_by_rst_total counter",
                       "coap_gateway_verified_by_echo_total counter",
                       "coap_gateway_verification_lockouts_total counter",
                       "coap_gateway_echo_challenges_total counter",
                       "coap_gateway_dedup_evictions_total counter",
                       "coap_gateway_dedup_effective_window_seconds gauge",
                       "coap_gateway_observations_active gauge",
                       "coap_gateway_longpolls_active gauge",
                       "coap_gateway_block_transfers_active gauge",
                       "coap_gateway_upstream_connections_open gauge",
                       "coap_gateway_upstream_queue_waits_total counter",
                       "coap_gateway_upstream_shed_total counter reason",
                       "coap_gateway_dtls_sessions_open gauge",
                       "coap_gateway_dtls_handshakes_total counter result",
                       "coap_gateway_dtls_cookies_sent_total counter",
                       "coap_gateway_dtls_alerts_total counter direction",
                       "coap_gateway_dtls_dropped_total counter",
                       "process_start_time_seconds gauge",
                   });
  CHECK(m::metric_count == m::catalogue.size());
}

TEST_CASE("every entry follows the exposition rules") {
  std::set<std::string_view> names;
  for (const auto& d : m::catalogue) {
    INFO(d.name);
    CHECK(is_metric_name(d.name));
    CHECK(names.insert(d.name).second);
    CHECK(!d.help.empty());
    CHECK(d.help.find('\n') == std::string_view::npos);
    if (d.where == m::scope::worker) CHECK(d.name.starts_with("coap_gateway_"));
    // Prometheus naming: counters end in _total, and only counters do.
    CHECK((d.type == m::kind::counter) == d.name.ends_with("_total"));
    for (auto label : d.label_list()) {
      CHECK(is_label_name(label));
      if (d.type == m::kind::histogram) CHECK(label != "le");
    }
    if (d.type == m::kind::histogram) {
      CHECK(!d.buckets.empty());
      CHECK(std::is_sorted(d.buckets.begin(), d.buckets.end()));
      CHECK(d.buckets.size() <= m::max_buckets);
    } else {
      CHECK(d.buckets.empty());
    }
  }
}

TEST_CASE("durations are bucketed from 100 us to 30 s, finely below 1 ms") {
  const auto b = m::describe(m::request_duration_seconds.id).buckets;
  REQUIRE(!b.empty());
  CHECK(b.front() == 0.0001);
  // The gateway's added time is held to a p99 of 1 ms (issue 14, P3): bounds below it.
  CHECK(std::ranges::count_if(b, [](double le) { return le < 0.001; }) >= 3);
  CHECK(b.back() == 30.0);
  CHECK(std::ranges::equal(b, m::describe(m::upstream_duration_seconds.id).buckets));
}

TEST_CASE("handles name their own entry and carry kind and label count in their type") {
  STATIC_REQUIRE(std::is_same_v<decltype(m::requests_total), const m::counter_id<2>>);
  STATIC_REQUIRE(std::is_same_v<decltype(m::upstream_requests_total), const m::counter_id<1>>);
  STATIC_REQUIRE(std::is_same_v<decltype(m::duplicates_total), const m::counter_id<0>>);
  STATIC_REQUIRE(std::is_same_v<decltype(m::longpolls_active), const m::gauge_id<0>>);
  STATIC_REQUIRE(std::is_same_v<decltype(m::request_duration_seconds), const m::histogram_id<0>>);
  STATIC_REQUIRE(
      std::is_same_v<decltype(m::process_start_time_seconds), const m::process_gauge_id>);
  CHECK(m::describe(m::requests_total.id).name == "coap_gateway_requests_total");
  CHECK(m::describe(m::gave_up_total.id).name == "coap_gateway_gave_up_total");
  CHECK(m::describe(m::process_start_time_seconds.id).where == m::scope::process);
}

TEST_CASE("storage slots are dense and distinct within each storage class") {
  using m::detail::storage;
  for (auto s : {storage::counter, storage::labelled_counter, storage::gauge, storage::histogram,
                 storage::process_gauge}) {
    std::set<std::size_t> seen;
    for (std::size_t i = 0; i < m::metric_count; ++i) {
      const auto id = static_cast<m::metric>(i);
      if (m::detail::storage_of(m::describe(id)) == s) seen.insert(m::detail::slot_of(id));
    }
    CHECK(seen.size() == m::detail::slots(s));
    if (!seen.empty()) CHECK(*seen.rbegin() == seen.size() - 1);
  }
}
