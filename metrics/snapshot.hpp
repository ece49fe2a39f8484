#pragma once
// Every metric's value at one moment, summed over the workers: plain data, copyable, what
// text_format renders. registry::collect() makes one; values that another component already
// counts (core::endpoint_stats, upstream::client_stats) can be set on it before rendering.
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "metrics/metrics.hpp"

namespace gw::metrics {

// Label values in the order of the descriptor's label names; slots past its count stay empty.
using label_values = std::array<std::string, max_labels>;

struct sample {
  std::uint64_t count = 0;  // counter: its value; histogram: the number of observations
  double value = 0;         // gauge: its value; histogram: the sum of the observations
  // Histogram only: observations per bucket, not cumulative; index i counts v <= buckets[i]
  // (and above the bound before), the index after the last bound counts the rest (+Inf).
  std::array<std::uint64_t, max_buckets + 1> buckets{};
};

class snapshot {
 public:
  // Every unlabelled metric holds one zero sample; labelled ones have no series yet.
  snapshot();

  std::uint64_t value(counter_id<0> c) const { return unlabelled(c.id).count; }
  template <std::size_t N>
  std::uint64_t value(counter_id<N> c, const std::array<std::string_view, N>& labels) const {
    return find(c.id, to_values(labels)).count;
  }
  double value(gauge_id<0> g) const { return unlabelled(g.id).value; }
  double value(process_gauge_id g) const { return unlabelled(g.id).value; }
  // A copy: a reference into a temporary snapshot would dangle.
  sample value(histogram_id<0> h) const { return unlabelled(h.id); }

  // For totals kept elsewhere and copied in at collection time. Replaces what the shards said.
  void set(counter_id<0> c, std::uint64_t total) { unlabelled(c.id).count = total; }
  void set(gauge_id<0> g, double value) { unlabelled(g.id).value = value; }
  void set(process_gauge_id g, double value) { unlabelled(g.id).value = value; }

  // Every series of `m`, ordered by label values: the exposition order.
  const std::map<label_values, sample>& series(metric m) const {
    return series_[static_cast<std::size_t>(m)];
  }
  // The series with these label values, created at zero if missing. For collection.
  sample& at(metric m, const label_values& labels) {
    return series_[static_cast<std::size_t>(m)][labels];
  }

 private:
  template <std::size_t N>
  static label_values to_values(const std::array<std::string_view, N>& labels) {
    label_values out;
    for (std::size_t i = 0; i < N; ++i) out[i] = std::string(labels[i]);
    return out;
  }
  // A zero sample when the series does not exist.
  const sample& find(metric m, const label_values& labels) const;
  const sample& unlabelled(metric m) const { return series(m).at(label_values{}); }
  sample& unlabelled(metric m) { return at(m, label_values{}); }

  std::array<std::map<label_values, sample>, metric_count> series_;
};

}  // namespace gw::metrics
