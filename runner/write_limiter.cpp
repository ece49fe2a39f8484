#include "runner/write_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace gw::runner {

void write_limiter::set_options(write_limit_options options) {
  options_ = options;
  buckets_.set_max_entries(options.max_keys);
}

std::optional<std::uint32_t> write_limiter::admit(const std::string& cik,
                                                  std::span<const std::string> aliases,
                                                  core::time_point now) {
  if (options_.rate <= 0) return std::nullopt;
  std::vector<std::string> keys;
  if (options_.per_alias) {
    for (const auto& alias : aliases) keys.push_back(cik + '\0' + alias);
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());  // one token per dataport
  } else {
    keys.push_back(cik);
  }
  // Refilled to now; an unknown (or expired, i.e. refilled) key is a full bucket.
  std::vector<bucket> state;
  double wait = 0;
  for (const auto& key : keys) {
    bucket b{burst(), now};
    if (const auto* held = buckets_.find(key, now)) {
      const double elapsed = std::chrono::duration<double>(now - held->at).count();
      b.tokens = std::min(burst(), held->tokens + options_.rate * std::max(0.0, elapsed));
    }
    if (b.tokens < 1) wait = std::max(wait, (1 - b.tokens) / options_.rate);
    state.push_back(b);
  }
  if (wait > 0) return static_cast<std::uint32_t>(std::clamp(std::ceil(wait), 1.0, 3600.0));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto b = state[i];
    b.tokens -= 1;
    // Kept until it would be full again, when it is the same as none.
    const auto refill = std::chrono::duration<double>((burst() - b.tokens) / options_.rate);
    buckets_.store(
        keys[i], b,
        now + std::chrono::duration_cast<core::duration>(refill) + std::chrono::milliseconds(1));
  }
  return std::nullopt;
}

}  // namespace gw::runner
