#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "bench/load/latency_histogram.hpp"

using gw::bench::latency_histogram;

TEST_CASE("latency_histogram: buckets tile the whole range without gaps", "[histogram]") {
  CHECK(latency_histogram::bucket_of(0) == 0);
  CHECK(latency_histogram::bucket_of(127) == 127);
  CHECK(latency_histogram::bucket_of(128) == 128);
  CHECK(latency_histogram::bucket_of(UINT64_MAX) == latency_histogram::bucket_count - 1);
  for (std::size_t b = 0; b + 1 < latency_histogram::bucket_count; ++b) {
    INFO(b);
    REQUIRE(latency_histogram::bucket_highest(b) + 1 == latency_histogram::bucket_lowest(b + 1));
    REQUIRE(latency_histogram::bucket_of(latency_histogram::bucket_lowest(b)) == b);
    REQUIRE(latency_histogram::bucket_of(latency_histogram::bucket_highest(b)) == b);
  }
}

TEST_CASE("latency_histogram: a bucket is narrower than 1/128 of its values", "[histogram]") {
  for (std::uint64_t v : {std::uint64_t{200}, std::uint64_t{12'345}, std::uint64_t{987'654'321},
                          std::uint64_t{1} << 50}) {
    const auto b = latency_histogram::bucket_of(v);
    const auto width = latency_histogram::bucket_highest(b) - latency_histogram::bucket_lowest(b);
    CHECK(static_cast<double>(width) <= static_cast<double>(v) / 128.0);
  }
}

TEST_CASE("latency_histogram: exact below 128, percentiles by rank", "[histogram]") {
  latency_histogram h;
  CHECK(h.percentile(50) == 0);
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
  CHECK(h.count() == 100);
  CHECK(h.min() == 1);
  CHECK(h.max() == 100);
  CHECK(h.mean() == Approx(50.5));
  CHECK(h.percentile(0) == 1);
  CHECK(h.percentile(50) == 50);
  CHECK(h.percentile(90) == 90);
  CHECK(h.percentile(99) == 99);
  CHECK(h.percentile(99.9) == 100);
  CHECK(h.percentile(100) == 100);
}

TEST_CASE("latency_histogram: percentiles of a million samples within 1% of the sorted truth",
          "[histogram]") {
  std::mt19937_64 engine(7);
  // Log-normal around 1 ms in nanoseconds: a long tail, as latencies have.
  std::lognormal_distribution<double> dist(13.8, 0.8);
  std::vector<std::uint64_t> samples(1'000'000);
  latency_histogram h;
  for (auto& s : samples) {
    s = static_cast<std::uint64_t>(dist(engine));
    h.record(s);
  }
  std::sort(samples.begin(), samples.end());
  for (double q : {50.0, 90.0, 99.0, 99.9}) {
    INFO(q);
    const auto rank = static_cast<std::size_t>(std::ceil(q / 100.0 * samples.size()));
    const auto truth = static_cast<double>(samples[rank - 1]);
    const auto got = static_cast<double>(h.percentile(q));
    CHECK(got >= truth);
    CHECK(got <= truth * 1.01);
  }
  CHECK(h.percentile(100) == samples.back());
  CHECK(h.max() == samples.back());
}

TEST_CASE("latency_histogram: merge equals recording both", "[histogram]") {
  latency_histogram a, b, both;
  for (std::uint64_t v : {5u, 500u, 50'000u}) {
    a.record(v);
    both.record(v);
  }
  for (std::uint64_t v : {7u, 7'000'000u}) {
    b.record(v);
    both.record(v);
  }
  a.merge(b);
  CHECK(a.count() == both.count());
  CHECK(a.min() == 5);
  CHECK(a.max() == 7'000'000);
  for (double q : {10.0, 50.0, 90.0, 100.0}) CHECK(a.percentile(q) == both.percentile(q));
}
