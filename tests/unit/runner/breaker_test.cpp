// The breaker in virtual time: when it opens, how long it refuses, the single probe, the doubling,
// and the upstream's own Retry-After.
#include "runner/breaker.hpp"

#include <catch2/catch.hpp>

namespace gw::runner {
namespace {

using namespace std::chrono_literals;
const core::time_point t0 = core::time_point{} + 1000h;

breaker_options options(unsigned failures) {
  breaker_options o;
  o.failures_to_open = failures;
  o.open_for = 4s;
  o.open_for_max = 20s;
  return o;
}

TEST_CASE("closed: calls go through until N consecutive failures open it", "[runner][breaker]") {
  breaker b(options(3), 7);
  for (int i = 0; i < 2; ++i) {
    REQUIRE_FALSE(b.refuse(t0));
    b.on_result(true, {}, t0);
  }
  REQUIRE_FALSE(b.refuse(t0));
  b.on_result(false, {}, t0);  // a success in between resets the count
  for (int i = 0; i < 2; ++i) {
    REQUIRE_FALSE(b.refuse(t0));
    b.on_result(true, {}, t0);
  }
  CHECK(b.current() == breaker::state::closed);
  REQUIRE_FALSE(b.refuse(t0));
  b.on_result(true, {}, t0);
  CHECK(b.current() == breaker::state::open);
  CHECK(b.opened() == 1);
  // Refused for a random point in the upper half of the period.
  auto wait = b.refuse(t0);
  REQUIRE(wait);
  CHECK((*wait >= 2s && *wait <= 4s));
  CHECK(b.refuse(t0 + *wait - 1ms));
}

TEST_CASE("half-open: one probe; success closes, failure doubles the period", "[runner][breaker]") {
  breaker b(options(1), 1);
  REQUIRE_FALSE(b.refuse(t0));
  b.on_result(true, {}, t0);
  auto t = t0 + *b.refuse(t0);
  REQUIRE_FALSE(b.refuse(t));  // the probe
  CHECK(b.current() == breaker::state::half_open);
  CHECK(b.refuse(t) == core::duration(1s));  // others wait while it is out
  b.on_result(true, {}, t);                  // the probe failed: open for 8s (4-8)
  auto wait = b.refuse(t);
  REQUIRE(wait);
  CHECK((*wait >= 4s && *wait <= 8s));
  t += *wait;
  REQUIRE_FALSE(b.refuse(t));
  b.on_result(true, {}, t);  // 16s (8-16)
  wait = b.refuse(t);
  CHECK((*wait >= 8s && *wait <= 16s));
  t += *wait;
  REQUIRE_FALSE(b.refuse(t));
  b.on_result(true, {}, t);  // capped at 20s (10-20)
  wait = b.refuse(t);
  CHECK((*wait >= 10s && *wait <= 20s));
  t += *wait;
  REQUIRE_FALSE(b.refuse(t));
  b.on_result(false, {}, t);  // recovered
  CHECK(b.current() == breaker::state::closed);
  CHECK_FALSE(b.refuse(t));
}

TEST_CASE("a Retry-After pauses calls for that long, capped, even when closed",
          "[runner][breaker]") {
  breaker b(options(0), 1);  // never opens on failures
  REQUIRE_FALSE(b.refuse(t0));
  b.on_result(true, 30s, t0);
  CHECK(b.current() == breaker::state::closed);
  CHECK(b.refuse(t0) == core::duration(30s));
  CHECK(b.refuse(t0 + 29s) == core::duration(1s));
  CHECK_FALSE(b.refuse(t0 + 30s));
  b.on_result(true, std::chrono::seconds(100000), t0 + 30s);
  CHECK(b.refuse(t0 + 30s) == core::duration(300s));
  for (int i = 0; i < 100; ++i) b.on_result(true, {}, t0);
  CHECK(b.current() == breaker::state::closed);
}

}  // namespace
}  // namespace gw::runner
