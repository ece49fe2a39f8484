#include "bench/load/pacer.hpp"

#include <cmath>

namespace gw::bench {

pacer::pacer(double rate, bool poisson, std::uint64_t seed)
    : rate_(rate), poisson_(poisson), engine_(seed), gap_(rate) {}

std::chrono::nanoseconds pacer::next() {
  const std::uint64_t k = issued_++;
  double at_s;
  if (poisson_) {
    // The first request goes at once, then gaps of mean 1/rate.
    if (k > 0) poisson_at_s_ += gap_(engine_);
    at_s = poisson_at_s_;
  } else {
    // Computed from k rather than summed, so rounding never accumulates over millions of sends.
    at_s = static_cast<double>(k) / rate_;
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(at_s * 1e9)));
}

}  // namespace gw::bench
