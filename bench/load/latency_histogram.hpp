#pragma once
// Latency histogram with log-linear buckets, in the manner of HdrHistogram: every power-of-two
// range [2^k, 2^(k+1)) is split into `sub_buckets` equal buckets, so any recorded value is known
// to within 1/sub_buckets of itself (under 0.8 %) whatever its magnitude, in a fixed 58 KiB
// table. Recording is O(1) and a run of millions of samples keeps no samples at all.
#include <array>
#include <cstddef>
#include <cstdint>

namespace gw::bench {

class latency_histogram {
 public:
  static constexpr unsigned sub_bucket_bits = 7;
  static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << sub_bucket_bits;
  // Values below sub_buckets are exact; each further power of two adds sub_buckets buckets.
  static constexpr std::size_t bucket_count = (64 - sub_bucket_bits + 1) * sub_buckets;

  // Any unit; the load generator records nanoseconds.
  void record(std::uint64_t value);
  void merge(const latency_histogram& other);

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }

  // The smallest value v such that at least q percent of the samples are <= v, reported as the
  // highest value of v's bucket (never above the largest sample). q in [0, 100]; 0 with no
  // samples. q = 100 is the exact maximum.
  std::uint64_t percentile(double q) const;

  // Bucket arithmetic, public for the tests.
  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t bucket_lowest(std::size_t bucket);
  static std::uint64_t bucket_highest(std::size_t bucket);

 private:
  std::array<std::uint64_t, bucket_count> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace gw::bench
