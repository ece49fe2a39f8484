#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <vector>

#include "bench/load/pacer.hpp"

using gw::bench::pacer;
using std::chrono::nanoseconds;

TEST_CASE("pacer: even spreading puts the k-th request at exactly k / rate", "[pacer]") {
  pacer p(4000, false);
  CHECK(p.next() == nanoseconds(0));
  CHECK(p.next() == nanoseconds(250'000));
  CHECK(p.next() == nanoseconds(500'000));
  // No drift after many sends: computed from k, not summed.
  pacer q(3, false);
  nanoseconds last{};
  for (int k = 0; k <= 3'000'000; ++k) last = q.next();
  CHECK(last == nanoseconds(1'000'000'000'000'000));
}

TEST_CASE("pacer: a fractional rate spreads one request every 1/rate seconds", "[pacer]") {
  pacer p(0.5, false);
  CHECK(p.next() == nanoseconds(0));
  CHECK(p.next() == nanoseconds(2'000'000'000));
}

TEST_CASE("pacer: Poisson arrivals have mean gap 1/rate and exponential spread", "[pacer]") {
  const double rate = 10'000;
  pacer p(rate, true, 42);
  CHECK(p.next() == nanoseconds(0));
  const int n = 200'000;
  std::vector<double> gaps;
  nanoseconds prev{};
  for (int i = 0; i < n; ++i) {
    const auto t = p.next();
    REQUIRE(t >= prev);
    gaps.push_back(static_cast<double>((t - prev).count()) / 1e9);
    prev = t;
  }
  double mean = 0;
  for (double g : gaps) mean += g;
  mean /= n;
  CHECK(mean == Approx(1 / rate).epsilon(0.01));
  // An exponential distribution's standard deviation equals its mean (an even spread's is 0),
  // and about e^-1 of the gaps exceed the mean.
  double var = 0;
  int above = 0;
  for (double g : gaps) {
    var += (g - mean) * (g - mean);
    above += g > mean;
  }
  CHECK(std::sqrt(var / n) == Approx(mean).epsilon(0.02));
  CHECK(static_cast<double>(above) / n == Approx(std::exp(-1.0)).epsilon(0.02));
}

TEST_CASE("pacer: the same seed gives the same Poisson schedule", "[pacer]") {
  pacer a(1000, true, 9), b(1000, true, 9), c(1000, true, 10);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next();
    CHECK(x == b.next());
    differs |= x != c.next();
  }
  CHECK(differs);
}
