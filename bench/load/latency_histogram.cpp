#include "bench/load/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace gw::bench {

std::size_t latency_histogram::bucket_of(std::uint64_t value) {
  if (value < sub_buckets) return static_cast<std::size_t>(value);
  // value lies in [sub_buckets * 2^k, sub_buckets * 2^(k+1)): buckets of width 2^k there.
  const unsigned k = static_cast<unsigned>(std::bit_width(value)) - 1 - sub_bucket_bits;
  const std::uint64_t mantissa = value >> k;  // in [sub_buckets, 2 * sub_buckets)
  return static_cast<std::size_t>((k + 1) * sub_buckets + (mantissa - sub_buckets));
}

std::uint64_t latency_histogram::bucket_lowest(std::size_t bucket) {
  if (bucket < sub_buckets) return bucket;
  const unsigned k = static_cast<unsigned>(bucket / sub_buckets) - 1;
  const std::uint64_t mantissa = bucket % sub_buckets + sub_buckets;
  return mantissa << k;
}

std::uint64_t latency_histogram::bucket_highest(std::size_t bucket) {
  if (bucket + 1 >= bucket_count) return UINT64_MAX;
  return bucket_lowest(bucket + 1) - 1;
}

void latency_histogram::record(std::uint64_t value) {
  ++buckets_[bucket_of(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<double>(value);
}

void latency_histogram::merge(const latency_histogram& other) {
  for (std::size_t i = 0; i < bucket_count; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

std::uint64_t latency_histogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 100.0);
  // Rank of the sample asked for, 1-based: ceil(q% of count), at least the first sample.
  auto rank = static_cast<std::uint64_t>(std::ceil(q / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(bucket_highest(i), max_);
  }
  return max_;
}

}  // namespace gw::bench
