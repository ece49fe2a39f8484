#pragma once
// The open-loop send schedule: when the k-th request of a run is due, independent of when any
// answer arrives (so a slow server cannot slow the offered load down and hide its own latency:
// the "coordinated omission" a closed loop suffers from). Pure: offsets from the run's start.
#include <chrono>
#include <cstdint>
#include <random>

namespace gw::bench {

class pacer {
 public:
  // rate: requests per second over all clients, > 0. poisson: exponentially distributed gaps of
  // mean 1/rate (a Poisson arrival process) from an engine seeded with `seed`; otherwise the
  // requests are spread evenly, the k-th at exactly k / rate.
  pacer(double rate, bool poisson, std::uint64_t seed = 1);

  // Offset from the start of the schedule at which the next request is due; non-decreasing.
  std::chrono::nanoseconds next();
  std::uint64_t issued() const { return issued_; }

 private:
  double rate_;
  bool poisson_;
  std::uint64_t issued_ = 0;
  double poisson_at_s_ = 0;
  std::mt19937_64 engine_;
  std::exponential_distribution<double> gap_;
};

}  // namespace gw::bench
