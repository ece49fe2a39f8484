#include "metrics/snapshot.hpp"

namespace gw::metrics {

snapshot::snapshot() {
  // An unlabelled metric is exposed even before its first event, so that rate() and absent()
  // see a zero rather than a missing series.
  for (std::size_t i = 0; i < metric_count; ++i) {
    if (catalogue[i].labels.count == 0) series_[i].try_emplace(label_values{});
  }
}

const sample& snapshot::find(metric m, const label_values& labels) const {
  static const sample zero;
  const auto& s = series(m);
  const auto it = s.find(labels);
  return it == s.end() ? zero : it->second;
}

}  // namespace gw::metrics
