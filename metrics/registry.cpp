#include "metrics/registry.hpp"

namespace gw::metrics {

shard& registry::add_shard() {
  std::lock_guard lock(mutex_);
  return *shards_.emplace_back(std::make_unique<shard>());
}

void registry::set(process_gauge_id g, double value) {
  std::lock_guard lock(mutex_);
  process_[detail::slot_of(g.id)] = value;
}

snapshot registry::collect() const {
  snapshot out;
  std::lock_guard lock(mutex_);
  for (const auto& s : shards_) s->collect_into(out);
  for (std::size_t i = 0; i < metric_count; ++i) {
    const auto m = static_cast<metric>(i);
    if (detail::storage_of(describe(m)) == detail::storage::process_gauge) {
      out.set(process_gauge_id{m}, process_[detail::slot_of(m)]);
    }
  }
  return out;
}

}  // namespace gw::metrics
