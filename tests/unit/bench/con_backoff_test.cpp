#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include "bench/load/con_backoff.hpp"

using gw::bench::con_backoff;
using namespace std::chrono_literals;

TEST_CASE("con_backoff: the first timeout lies in [ACK_TIMEOUT, ACK_TIMEOUT * factor]",
          "[backoff]") {
  CHECK(con_backoff::start(2s, 1.5, 0.0).timeout == 2s);
  CHECK(con_backoff::start(2s, 1.5, 0.5).timeout == 2500ms);
  CHECK(con_backoff::start(2s, 1.5, 0.999999).timeout < 3s);
  CHECK(con_backoff::start(2s, 1.5, 0.999999).timeout > 2999ms);
  CHECK(con_backoff::start(2s, 1.0, 0.7).timeout == 2s);
}

TEST_CASE("con_backoff: RFC 7252 §4.2 schedule, doubling, give up after MAX_RETRANSMIT",
          "[backoff]") {
  // ACK_TIMEOUT 2 s, no randomness: sends at 0, 2, 6, 14, 30 s; give up at 62 s
  // (MAX_TRANSMIT_WAIT with factor 1).
  auto b = con_backoff::start(2s, 1.5, 0.0);
  std::vector<std::chrono::nanoseconds> sends{0s};
  std::chrono::nanoseconds now{0};
  for (;;) {
    now += b.timeout;
    if (!b.on_timeout(4)) break;
    sends.push_back(now);
  }
  CHECK(sends == std::vector<std::chrono::nanoseconds>{0s, 2s, 6s, 14s, 30s});
  CHECK(now == 62s);
  CHECK(b.retransmits == 4);
}

TEST_CASE("con_backoff: MAX_RETRANSMIT 0 gives up at the first timeout", "[backoff]") {
  auto b = con_backoff::start(1s, 1.5, 0.0);
  CHECK_FALSE(b.on_timeout(0));
  CHECK(b.retransmits == 0);
}
