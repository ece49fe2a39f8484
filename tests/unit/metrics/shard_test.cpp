// Shards, their merge in a registry, and snapshots: what one worker records is what a scrape
// sees, summed over workers, with histogram bounds inclusive as Prometheus defines them.
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "metrics/registry.hpp"
#include "metrics/shard.hpp"
#include "metrics/snapshot.hpp"

namespace m = gw::metrics;
using namespace std::chrono_literals;

namespace {

// Misuse the handle types must reject at compile time.
template <class S, class H>
concept can_observe = requires(S& s, H h) {
  s.observe(h, 1.0);
};
template <class S, class H>
concept can_add = requires(S& s, H h) {
  s.add(h);
};
template <class S, class H>
concept can_add_two_labels = requires(S& s, H h) {
  s.add(h, {"a", "b"});
};

static_assert(!can_observe<m::shard, decltype(m::duplicates_total)>);
static_assert(!can_add<m::shard, decltype(m::request_duration_seconds)>);
static_assert(!can_add<m::shard, decltype(m::requests_total)>);  // labels are required
static_assert(!can_add_two_labels<m::shard, decltype(m::duplicates_total)>);
static_assert(can_add_two_labels<m::shard, decltype(m::requests_total)>);
static_assert(!can_add<m::shard, decltype(m::process_start_time_seconds)>);

m::snapshot collect(const m::shard& s) {
  m::snapshot out;
  s.collect_into(out);
  return out;
}

// Index of the one bucket a single observation landed in, or -1.
int bucket_of(double seconds) {
  m::shard s;
  s.observe(m::request_duration_seconds, seconds);
  const auto h = collect(s).value(m::request_duration_seconds);
  for (std::size_t i = 0; i < h.buckets.size(); ++i) {
    if (h.buckets[i] == 1) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

TEST_CASE("a fresh snapshot has every unlabelled metric at zero and no labelled series") {
  const m::snapshot s;
  CHECK(s.value(m::duplicates_total) == 0);
  CHECK(s.value(m::observations_active) == 0.0);
  CHECK(s.value(m::process_start_time_seconds) == 0.0);
  CHECK(s.value(m::request_duration_seconds).count == 0);
  CHECK(s.series(m::requests_total.id).empty());
  CHECK(s.series(m::duplicates_total.id).size() == 1);
  CHECK(s.value(m::requests_total, {"read", "2.05"}) == 0);
}

TEST_CASE("counters add up; set_total copies a total kept elsewhere") {
  m::shard s;
  s.add(m::duplicates_total);
  s.add(m::duplicates_total, 4);
  s.set_total(m::dedup_evictions_total, 17);
  const auto snap = collect(s);
  CHECK(snap.value(m::duplicates_total) == 5);
  CHECK(snap.value(m::dedup_evictions_total) == 17);
  CHECK(snap.value(m::rst_sent_total) == 0);
}

TEST_CASE("labelled counters keep one series per label combination") {
  m::shard s;
  s.add(m::requests_total, {"read", "2.05"});
  s.add(m::requests_total, {"read", "2.05"});
  s.add(m::requests_total, {"write", "2.04"});
  s.add(m::requests_total, {"none", "4.04"}, 3);
  s.add(m::upstream_requests_total, {"timed_out"});
  const auto snap = collect(s);
  CHECK(snap.value(m::requests_total, {"read", "2.05"}) == 2);
  CHECK(snap.value(m::requests_total, {"write", "2.04"}) == 1);
  CHECK(snap.value(m::requests_total, {"none", "4.04"}) == 3);
  CHECK(snap.value(m::requests_total, {"read", "4.04"}) == 0);
  CHECK(snap.value(m::upstream_requests_total, {"timed_out"}) == 1);
  CHECK(snap.series(m::requests_total.id).size() == 3);
}

TEST_CASE("a labelled metric stops growing at max_series; the rest counts under \"other\"") {
  m::shard s;
  for (std::size_t i = 0; i < m::shard::max_series + 10; ++i) {
    s.add(m::upstream_requests_total, {std::to_string(i)});
  }
  const auto snap = collect(s);
  CHECK(snap.series(m::upstream_requests_total.id).size() == m::shard::max_series + 1);
  CHECK(snap.value(m::upstream_requests_total, {"other"}) == 10);
  CHECK(snap.value(m::upstream_requests_total, {"5"}) == 1);
}

TEST_CASE("gauges are set, or moved by deltas") {
  m::shard s;
  s.set(m::upstream_connections_open, 3);
  s.add(m::longpolls_active, 1);
  s.add(m::longpolls_active, 1);
  s.add(m::longpolls_active, -1);
  const auto snap = collect(s);
  CHECK(snap.value(m::upstream_connections_open) == 3.0);
  CHECK(snap.value(m::longpolls_active) == 1.0);
}

TEST_CASE("histogram bounds are inclusive upper bounds") {
  // duration_buckets: 0.0001 0.00025 0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1
  // 2.5 5 10 30, then +Inf
  CHECK(bucket_of(0.0) == 0);
  CHECK(bucket_of(-1.0) == 0);
  CHECK(bucket_of(0.0001) == 0);
  CHECK(bucket_of(0.00010001) == 1);
  CHECK(bucket_of(0.0003) == 2);
  CHECK(bucket_of(0.0005) == 2);
  CHECK(bucket_of(0.001) == 3);
  CHECK(bucket_of(0.0010001) == 4);
  CHECK(bucket_of(0.0025) == 4);
  CHECK(bucket_of(0.25) == 10);
  CHECK(bucket_of(1.0) == 12);
  CHECK(bucket_of(1.5) == 13);
  CHECK(bucket_of(30.0) == 16);
  CHECK(bucket_of(30.000001) == 17);
  CHECK(bucket_of(std::numeric_limits<double>::infinity()) == 17);
  CHECK(bucket_of(std::nan("")) == -1);
}

TEST_CASE("histograms count, sum, and take chrono durations") {
  m::shard s;
  s.observe(m::upstream_duration_seconds, 250ms);
  s.observe(m::upstream_duration_seconds, 2s);
  s.observe(m::upstream_duration_seconds, std::chrono::microseconds(500));
  s.observe(m::upstream_duration_seconds, std::nan(""));
  const auto h = collect(s).value(m::upstream_duration_seconds);
  CHECK(h.count == 3);
  CHECK(h.value == Approx(2.2505));
  CHECK(h.buckets[2] == 1);
  CHECK(h.buckets[10] == 1);
  CHECK(h.buckets[13] == 1);
}

TEST_CASE("a registry sums its shards and keeps process values whole") {
  m::registry r;
  auto& a = r.add_shard();
  auto& b = r.add_shard();
  a.add(m::duplicates_total, 2);
  b.add(m::duplicates_total, 3);
  a.add(m::requests_total, {"read", "2.05"});
  b.add(m::requests_total, {"read", "2.05"}, 2);
  b.add(m::requests_total, {"rpc", "2.05"});
  a.set(m::observations_active, 4);
  b.set(m::observations_active, 6);
  a.observe(m::request_duration_seconds, 0.002);
  b.observe(m::request_duration_seconds, 0.002);
  b.observe(m::request_duration_seconds, 100.0);
  r.set(m::process_start_time_seconds, 1712345678.5);

  const auto snap = r.collect();
  CHECK(snap.value(m::duplicates_total) == 5);
  CHECK(snap.value(m::requests_total, {"read", "2.05"}) == 3);
  CHECK(snap.value(m::requests_total, {"rpc", "2.05"}) == 1);
  CHECK(snap.value(m::observations_active) == 10.0);
  const auto h = snap.value(m::request_duration_seconds);
  CHECK(h.count == 3);
  CHECK(h.buckets[4] == 2);
  CHECK(h.buckets[17] == 1);
  CHECK(h.value == Approx(100.004));
  CHECK(snap.value(m::process_start_time_seconds) == 1712345678.5);
  // The same again: collecting does not move or reset anything.
  CHECK(r.collect().value(m::duplicates_total) == 5);
}

TEST_CASE("values counted elsewhere can be set on a snapshot before rendering") {
  m::registry r;
  r.add_shard().add(m::retransmissions_total, 2);
  auto snap = r.collect();
  snap.set(m::retransmissions_total, 40);
  snap.set(m::block_transfers_active, 2);
  CHECK(snap.value(m::retransmissions_total) == 40);
  CHECK(snap.value(m::block_transfers_active) == 2.0);
}

TEST_CASE("collecting while a worker writes sees monotonic values and loses none") {
  m::registry r;
  auto& s = r.add_shard();
  constexpr std::uint64_t n = 200000;
  std::atomic<bool> done{false};
  std::thread worker([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      s.add(m::duplicates_total);
      // New series appear while the collector walks the map.
      s.add(m::requests_total, {"read", std::to_string(i % 50)});
      s.observe(m::request_duration_seconds, 0.003);
    }
    done = true;
  });
  std::uint64_t last = 0;
  bool monotonic = true;
  bool consistent = true;
  while (!done) {
    const auto snap = r.collect();
    const auto now = snap.value(m::duplicates_total);
    monotonic = monotonic && now >= last;
    last = now;
    const auto h = snap.value(m::request_duration_seconds);
    std::uint64_t sum = 0;
    for (auto c : h.buckets) sum += c;
    consistent = consistent && sum == h.count;
  }
  worker.join();
  CHECK(monotonic);
  CHECK(consistent);
  const auto snap = r.collect();
  CHECK(snap.value(m::duplicates_total) == n);
  CHECK(snap.value(m::request_duration_seconds).count == n);
  CHECK(snap.series(m::requests_total.id).size() == 50);
  CHECK(snap.value(m::requests_total, {"read", "7"}) == n / 50);
}
