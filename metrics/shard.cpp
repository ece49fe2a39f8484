#include "metrics/shard.hpp"

#include <algorithm>
#include <cmath>

namespace gw::metrics {

namespace {

constexpr std::string_view overflow_value = "other";

// Calls f(metric, slot) for every metric of storage class `s`, in catalogue order.
template <class F>
void for_each_of(detail::storage s, F&& f) {
  for (std::size_t i = 0; i < metric_count; ++i) {
    const auto m = static_cast<metric>(i);
    if (detail::storage_of(describe(m)) == s) f(m, detail::slot_of(m));
  }
}

}  // namespace

void shard::observe(histogram_id<0> h, double seconds) {
  if (std::isnan(seconds)) return;
  const auto bounds = describe(h.id).buckets;
  // Prometheus buckets are inclusive upper bounds: a value equal to a bound counts in it.
  const auto index = static_cast<std::size_t>(
      std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin());
  auto& cell = histograms_[slot(h.id)];
  bump(cell.counts[index], 1);
  cell.sum.store(cell.sum.load(std::memory_order_relaxed) + seconds, std::memory_order_relaxed);
}

void shard::add_labelled(metric m, std::span<const std::string_view> labels, std::uint64_t n) {
  label_view key{};
  std::copy(labels.begin(), labels.end(), key.begin());
  auto& series = labelled_[slot(m)];
  // Only this thread changes the map, so looking up without the lock races with nothing.
  if (auto it = series.find(key); it != series.end()) {
    bump(it->second, n);
    return;
  }
  bump(insert_series(series, key, labels.size()), n);
}

std::atomic<std::uint64_t>& shard::insert_series(series_map& series, const label_view& key,
                                                 std::size_t count) {
  label_values values;
  if (series.size() < max_series) {
    for (std::size_t i = 0; i < max_labels; ++i) values[i] = std::string(key[i]);
  } else {
    label_view overflow{};
    std::fill_n(overflow.begin(), count, overflow_value);
    if (auto it = series.find(overflow); it != series.end()) return it->second;
    for (std::size_t i = 0; i < max_labels; ++i) values[i] = std::string(overflow[i]);
  }
  std::lock_guard lock(series_mutex_);
  return series.try_emplace(std::move(values), 0u).first->second;
}

void shard::collect_into(snapshot& into) const {
  const auto load = [](const auto& v) { return v.load(std::memory_order_relaxed); };
  for_each_of(detail::storage::counter,
              [&](metric m, std::size_t slot) { into.at(m, {}).count += load(counters_[slot]); });
  for_each_of(detail::storage::gauge,
              [&](metric m, std::size_t slot) { into.at(m, {}).value += load(gauges_[slot]); });
  for_each_of(detail::storage::histogram, [&](metric m, std::size_t slot) {
    auto& s = into.at(m, {});
    const auto& cell = histograms_[slot];
    for (std::size_t b = 0; b < cell.counts.size(); ++b) {
      const auto c = load(cell.counts[b]);
      s.buckets[b] += c;
      s.count += c;
    }
    s.value += load(cell.sum);
  });
  std::lock_guard lock(series_mutex_);
  for_each_of(detail::storage::labelled_counter, [&](metric m, std::size_t slot) {
    for (const auto& [labels, value] : labelled_[slot]) into.at(m, labels).count += load(value);
  });
}

}  // namespace gw::metrics
