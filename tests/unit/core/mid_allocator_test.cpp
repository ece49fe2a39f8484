// Message IDs per peer (RFC 7252 §4.4), in virtual time.
#include <catch2/catch.hpp>

#include <set>

#include "gateway/core/mid_allocator.hpp"
#include "tests/unit/core/endpoint_rig.hpp"

using namespace gw;
using namespace std::chrono_literals;
using namespace gw::test;

namespace {

const core::duration lifetime = 247s;

core::peer nth_peer(std::uint32_t n) {
  core::peer p;
  p.address = {10, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
               static_cast<std::uint8_t>(n)};
  p.port = 5683;
  return p;
}

}  // namespace

TEST_CASE("each peer's MIDs start at a random value and are never reused within the lifetime") {
  core::mid_allocator mids;
  std::mt19937_64 rng(7);
  time_point t{std::chrono::hours(1)};
  const auto a = nth_peer(1), b = nth_peer(2);
  const auto first_a = mids.next(a, t, lifetime, rng);
  const auto first_b = mids.next(b, t, lifetime, rng);
  REQUIRE(first_a);
  REQUIRE(first_b);
  CHECK(*first_a != *first_b);

  // All 65,536 towards one peer within the lifetime, each once; then none.
  std::set<std::uint16_t> seen{*first_a};
  for (std::uint32_t i = 1; i < core::mid_allocator::mid_space; ++i) {
    auto m = mids.next(a, t + std::chrono::milliseconds(i), lifetime, rng);
    REQUIRE(m);
    seen.insert(*m);
  }
  CHECK(seen.size() == core::mid_allocator::mid_space);
  CHECK_FALSE(mids.available(a, t + 100s));
  CHECK_FALSE(mids.next(a, t + 100s, lifetime, rng));
  // Another peer is not affected.
  CHECK(mids.next(b, t + 100s, lifetime, rng));
  // Once the first is a lifetime old (and its release slot, up to lifetime/8 later, has
  // passed), it comes back: the oldest MID, not a recent one.
  const auto later = t + lifetime + lifetime / 8;
  auto again = mids.next(a, later, lifetime, rng);
  REQUIRE(again);
  CHECK(*again == *first_a);
}

TEST_CASE("per-peer MID state expires a lifetime after the last message to the peer") {
  core::mid_allocator mids;
  std::mt19937_64 rng(7);
  time_point t{std::chrono::hours(1)};
  for (std::uint32_t n = 0; n < 1000; ++n) mids.next(nth_peer(n), t, lifetime, rng);
  mids.next(nth_peer(0), t + 100s, lifetime, rng);
  CHECK(mids.peers() == 1000);
  auto next = mids.next_expiry();
  REQUIRE(next);
  CHECK(*next >= t + lifetime);
  // Within a release slot (lifetime/8) after the lifetime.
  mids.expire(t + lifetime + lifetime / 8);
  CHECK(mids.peers() == 1);  // peer 0 was sent to later
  mids.expire(t + 100s + lifetime + lifetime / 8);
  CHECK(mids.peers() == 0);
}

// Memory per observer: a peer notified every 100 ms for ten lifetimes holds a bounded number
// of runs and one pending expiry, not one of each per second (about 5 KiB per observer before).
TEST_CASE("a peer sent to steadily holds at most ten runs and one pending expiry") {
  core::mid_allocator mids;
  std::mt19937_64 rng(7);
  const auto a = nth_peer(1), b = nth_peer(2);
  time_point t{std::chrono::hours(1)};
  std::size_t most_runs = 0;
  std::size_t most_expiries = 0;
  for (int i = 0; i < 10 * 2470; ++i, t += 100ms) {
    REQUIRE(mids.next(a, t, lifetime, rng));
    REQUIRE(mids.next(b, t, lifetime, rng));
    mids.expire(t);
    most_runs = std::max(most_runs, mids.runs(a));
    most_expiries = std::max(most_expiries, mids.pending_expiries());
  }
  CHECK(most_runs <= 10);
  CHECK(most_expiries <= 2);  // one per peer
  CHECK(mids.in_use(a, t) <= 2470 + 2470 / 8 + 10);
}

TEST_CASE("a big fan-out to other peers never makes one peer see a recent MID again") {
  rig r;
  auto poll = [&](const core::peer& from, std::uint16_t mid, time_point now) {
    auto req = request(coap::type::non, coap::codes::get, mid);
    r.receive(req, now, from);
    auto fw = r.ep.take_forwards();
    REQUIRE(fw.size() == 1);
    r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), now);
    auto out = r.sent();
    REQUIRE(out.size() == 1);
    return out[0].mid;
  };
  const auto first = poll(client, 1, r.t0);
  // 65,535 NON responses to other peers within a minute (a notification fan-out is the same).
  for (std::uint32_t i = 0; i < 65535; ++i)
    poll(nth_peer(i % 5000), static_cast<std::uint16_t>(i / 5000),
         r.t0 + std::chrono::microseconds(i * 900));
  const auto second = poll(client, 2, r.t0 + 60s);
  CHECK(second != first);
  CHECK(second == static_cast<std::uint16_t>(first + 1));
}

TEST_CASE("a peer with every MID in use gets no NON response until one is released") {
  rig r;
  std::uint32_t answered = 0;
  auto now = r.t0;
  for (std::uint32_t i = 0; i <= 65536; ++i) {
    now = r.t0 + std::chrono::milliseconds(i);
    auto req = request(coap::type::non, coap::codes::get, static_cast<std::uint16_t>(i));
    req.set_payload(std::to_string(i));  // no two alike
    r.receive(req, now);
    for (auto& f : r.ep.take_forwards())
      r.ep.on_response(f.id, coap::make_response(f.request, coap::codes::content), now);
    answered += static_cast<std::uint32_t>(r.ep.take_sends().size());
  }
  CHECK(answered == 65536);
  CHECK(r.ep.stats().mid_exhausted == 1);
  // A CON request is still answered, piggybacked in the ACK: it needs no MID of ours.
  r.receive(request(coap::type::con, coap::codes::get, 7, {9}), now);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  r.run_until(now + 1500ms);  // no empty ACK: a separate response would need a MID
  CHECK(r.sent().empty());
  r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content),
                   now + 1500ms);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == coap::type::ack);
  CHECK(out[0].code == coap::codes::content);
  // A lifetime (and a release slot of lifetime/8) after the first response, MIDs are free again.
  const auto later = r.t0 + 248s + 247s / 8;
  r.run_until(later);
  auto req = request(coap::type::non, coap::codes::get, 0x4444);
  r.receive(req, later);
  for (auto& f : r.ep.take_forwards())
    r.ep.on_response(f.id, coap::make_response(f.request, coap::codes::content), later);
  CHECK(r.sent().size() == 1);
}
