#pragma once
// Where the workers' shards meet: the gateway makes one registry, gives each worker a shard
// and collects a snapshot per scrape. The registry owns the shards, so a shard lives as long
// as the registry whatever the order in which workers stop.
#include <array>
#include <memory>
#include <mutex>
#include <vector>

#include "metrics/metrics.hpp"
#include "metrics/shard.hpp"
#include "metrics/snapshot.hpp"

namespace gw::metrics {

class registry {
 public:
  registry() = default;
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  // A new, zeroed shard for one writing thread. Thread-safe; the reference stays valid for the
  // registry's lifetime.
  shard& add_shard();

  // A value of the whole process (its start time). Thread-safe.
  void set(process_gauge_id g, double value);

  // Every shard summed, plus the process values. Thread-safe; takes each shard's lock in turn
  // (see shard.hpp for what that costs a worker: nothing unless it is adding a new series).
  snapshot collect() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<shard>> shards_;
  std::array<double, detail::slots(detail::storage::process_gauge)> process_{};
};

}  // namespace gw::metrics
