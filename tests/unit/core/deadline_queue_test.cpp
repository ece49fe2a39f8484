// The deadline heap: order, cancellation by handle, and the endpoint's use of it (dead
// deadlines are cancelled, so the one timer is never armed for them).
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>

#include "gateway/core/deadline_queue.hpp"
#include "gateway/core/dedup_cache.hpp"
#include "tests/unit/core/endpoint_rig.hpp"

using namespace gw;
using namespace std::chrono_literals;
using core::time_point;

TEST_CASE("deadline queue: due keys come earliest first, equal times in push order") {
  core::deadline_queue<int> q;
  const time_point t{1h};
  q.push(t + 3s, 3);
  q.push(t + 1s, 1);
  q.push(t + 3s, 4);
  q.push(t + 2s, 2);
  CHECK(q.next() == t + 1s);
  CHECK(q.take_due(t + 2s) == std::vector<int>{1, 2});
  CHECK(q.take_due(t + 10s) == std::vector<int>{3, 4});
  CHECK_FALSE(q.next());
}

TEST_CASE("deadline queue: a cancelled deadline is gone; a stale handle cancels nothing") {
  core::deadline_queue<int> q;
  const time_point t{1h};
  auto early = q.push(t + 1s, 1);
  auto late = q.push(t + 5s, 2);
  REQUIRE(early != 0);
  CHECK(q.cancel(early));
  CHECK(q.next() == t + 5s);  // the owner's timer moves to the live deadline
  CHECK(q.size() == 1);
  CHECK_FALSE(q.cancel(early));     // twice: nothing happens
  auto reused = q.push(t + 2s, 3);  // takes the freed slot
  CHECK_FALSE(q.cancel(early));     // the old handle does not name the new deadline
  CHECK(q.size() == 2);
  CHECK(q.take_due(t + 2s) == std::vector<int>{3});
  CHECK_FALSE(q.cancel(reused));  // already taken
  CHECK_FALSE(q.cancel(0));
  CHECK(q.cancel(late));
  CHECK(q.empty());
}

TEST_CASE("deadline queue: random pushes, cancels and takes match a sorted reference") {
  std::mt19937_64 rng(7);
  core::deadline_queue<int> q;
  std::map<std::pair<time_point, int>, core::deadline_queue<int>::handle> ref;  // (at, key)
  const time_point t0{1h};
  time_point now = t0;
  int next_key = 0;
  for (int step = 0; step < 20000; ++step) {
    const auto op = rng() % 10;
    if (op < 5) {
      auto at = now + std::chrono::milliseconds(rng() % 5000);
      const int key = next_key++;  // keys grow, so (at, key) orders equal times by push order
      ref[{at, key}] = q.push(at, key);
    } else if (op < 8 && !ref.empty()) {
      auto it = ref.begin();
      std::advance(it, static_cast<long>(rng() % ref.size()));
      REQUIRE(q.cancel(it->second));
      ref.erase(it);
    } else {
      now += std::chrono::milliseconds(rng() % 700);
      std::vector<int> expected;
      while (!ref.empty() && ref.begin()->first.first <= now) {
        expected.push_back(ref.begin()->first.second);
        ref.erase(ref.begin());
      }
      REQUIRE(q.take_due(now) == expected);
    }
    REQUIRE(q.size() == ref.size());
    if (ref.empty())
      REQUIRE_FALSE(q.next());
    else
      REQUIRE(q.next() == ref.begin()->first.first);
  }
}

TEST_CASE("dedup cache keeps one expiry per entry: an answered safe request drops its lifetime") {
  core::dedup_cache cache(1 << 20);
  const core::mid_key key{core::peer{0, false, {127, 0, 0, 1}, 40000}, 7};
  const time_point t{1h};
  REQUIRE(cache.insert(key, 1, 1, core::dedup_cache::kind::safe, t, t + 247s, 0));
  CHECK(cache.next_expiry() == t + 247s);
  cache.set_reply(key, 1, {0x60}, true, t + 1ms, 1s);
  CHECK(cache.next_expiry() == t + 1ms + 1s);
  CHECK(cache.queued_expiries() == 1);  // not the 247 s one as well, for 247 s
  // The MID reused for a new request replaces the entry and its expiry.
  REQUIRE(cache.insert(key, 2, 2, core::dedup_cache::kind::safe, t + 2ms, t + 2ms + 247s, 0));
  CHECK(cache.queued_expiries() == 1);
  CHECK(cache.next_expiry() == t + 2ms + 247s);
}

TEST_CASE("an answered CON leaves no separate-response deadline behind") {
  core::endpoint_config cfg;
  cfg.separate_response_after = 500ms;
  cfg.replay_window = 1s;
  test::rig r(cfg);
  r.receive(test::request(coap::type::con, coap::codes::get, 0x10), r.t0);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  CHECK(r.ep.next_deadline() == r.t0 + 500ms);
  r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), r.t0 + 1ms);
  REQUIRE(r.sent().size() == 1);
  // The next wake-up is the replay window's end, not the dead separate-response deadline.
  CHECK(r.ep.next_deadline() == r.t0 + 1ms + 1s);
  CHECK(r.run_until(r.t0 + 10s).empty());
  CHECK_FALSE(r.ep.next_deadline());
}
