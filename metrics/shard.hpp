#pragma once
// One worker's metric values. Exactly one thread (the worker's) writes a shard; any thread may
// collect it at the same time (registry::collect()).
//
// Cost on the writing thread: every value is a std::atomic written only by its owner with a
// relaxed load and a relaxed store, never a read-modify-write; on x86-64 and AArch64 that is
// the same plain load and store as an ordinary integer, with no lock prefix or fence. A labelled
// counter also does one lookup in a small std::map (no allocation once the series exists). The
// shard's mutex is taken by the writer only when a label combination appears for the first
// time, and by a collector for the few microseconds it takes to read the shard; so a scrape
// never makes a worker wait, except for the first request of a new (procedure, code) pair.
//
// A collection is not one atomic cut: a counter may be one event ahead of another. Each value
// is monotonic, which is all Prometheus needs; a histogram's count is computed from its buckets
// so `_count` always equals the +Inf bucket.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "metrics/metrics.hpp"
#include "metrics/snapshot.hpp"

namespace gw::metrics {

class shard {
 public:
  // A labelled metric keeps at most this many series; further label combinations are counted
  // under the label value "other" in every label, so a bug cannot grow memory without bound.
  static constexpr std::size_t max_series = 1000;

  shard() = default;
  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;

  void add(counter_id<0> c, std::uint64_t n = 1) { bump(counters_[slot(c.id)], n); }
  template <std::size_t N>
  requires(N > 0) void add(counter_id<N> c, const std::array<std::string_view, N>& labels,
                           std::uint64_t n = 1) {
    add_labelled(c.id, labels, n);
  }
  // For a total another component keeps (core::endpoint_stats): copies it in. Must not go down.
  void set_total(counter_id<0> c, std::uint64_t total) {
    counters_[slot(c.id)].store(total, std::memory_order_relaxed);
  }

  void set(gauge_id<0> g, double value) {
    gauges_[slot(g.id)].store(value, std::memory_order_relaxed);
  }
  // +1 when a long-poll opens, -1 when it ends.
  void add(gauge_id<0> g, double delta) {
    auto& v = gauges_[slot(g.id)];
    v.store(v.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }

  // In seconds. NaN is ignored; negative values count in the first bucket.
  void observe(histogram_id<0> h, double seconds);
  template <class Rep, class Period>
  void observe(histogram_id<0> h, std::chrono::duration<Rep, Period> elapsed) {
    observe(h, std::chrono::duration<double>(elapsed).count());
  }

  // Adds this shard's values to `into`. Thread-safe with respect to the writer.
  void collect_into(snapshot& into) const;

 private:
  using label_view = std::array<std::string_view, max_labels>;
  // Lets the writer look a series up by string_views without building std::strings.
  struct label_less {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      for (std::size_t i = 0; i < max_labels; ++i) {
        const std::string_view x = a[i], y = b[i];
        if (x != y) return x < y;
      }
      return false;
    }
  };
  using series_map = std::map<label_values, std::atomic<std::uint64_t>, label_less>;

  struct histogram_cell {
    std::array<std::atomic<std::uint64_t>, max_buckets + 1> counts{};
    std::atomic<double> sum{0};
  };

  static constexpr std::size_t slot(metric m) { return detail::slot_of(m); }
  static void bump(std::atomic<std::uint64_t>& v, std::uint64_t n) {
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void add_labelled(metric m, std::span<const std::string_view> labels, std::uint64_t n);
  std::atomic<std::uint64_t>& insert_series(series_map& series, const label_view& key,
                                            std::size_t count);

  std::array<std::atomic<std::uint64_t>, detail::slots(detail::storage::counter)> counters_{};
  std::array<series_map, detail::slots(detail::storage::labelled_counter)> labelled_;
  std::array<std::atomic<double>, detail::slots(detail::storage::gauge)> gauges_{};
  std::array<histogram_cell, detail::slots(detail::storage::histogram)> histograms_;
  // Guards the structure of labelled_ (not the values): the writer's inserts, collectors' reads.
  mutable std::mutex series_mutex_;
};

}  // namespace gw::metrics
