// Observe numbers from the wall clock (RFC 7641 §3.4, §4.4): a new relation's numbers are
// fresher than an old one's, on the same instance or another one.
#include <catch2/catch.hpp>

#include "tests/unit/core/observe_rig.hpp"

using namespace gw::test;

namespace {
// 2026-11-27 in system time; the steady clock of each rig counts from its boot.
constexpr auto wall_at_t0 = std::chrono::seconds(1795000000);
}  // namespace

TEST_CASE("next_observe_number: the clock, or one more than the last when it is not fresher") {
  struct row {
    std::optional<std::uint32_t> last;
    std::uint32_t clock;
    std::uint32_t want;
  };
  const row rows[] = {
      {std::nullopt, 1234, 1234},      // a new relation: the clock
      {5, 10, 10},                     // the clock moved on
      {10, 10, 11},                    // two messages within one tick
      {10, 5, 11},                     // the wall clock stepped back
      {0xFFFFFF, 2, 2},                // the clock wrapped past the last
      {0xFFFFFF, 0xFFFFFF, 0},         // last + 1 wraps
      {0xFFFFFE, 0x7FFFFE, 0xFFFFFF},  // 2^23 behind is not fresher
      {0x900000, 0x0FFFFF, 0x0FFFFF},  // more than 2^23 ahead: the clock is fresher again
      {std::nullopt, 0x1000005, 5},    // 24 bits
  };
  for (const auto& r : rows) {
    CAPTURE(r.last, r.clock);
    const auto got = core::next_observe_number(r.last, r.clock);
    CHECK(got == r.want);
    if (r.last) CHECK(core::is_fresher(*r.last, {}, got, {}));
  }
}

TEST_CASE("the Observe clock counts 1/1024 s from the wall-clock epoch") {
  const core::time_point boot_plus_1h{std::chrono::hours(1)};
  const auto offset = std::chrono::duration_cast<core::duration>(wall_at_t0) - 1h;
  const auto base = core::observe_clock(boot_plus_1h, offset);
  CHECK(base == (1795000000ull * 1024) % (1u << 24));
  CHECK(core::observe_clock(boot_plus_1h + 1s, offset) == ((base + 1024) & 0xFFFFFF));
  CHECK(core::observe_clock(boot_plus_1h + 1ms, offset) == ((base + 1) & 0xFFFFFF));
  // 2^23 ticks (2.3 hours) are far more than the 128 seconds of RFC 7641 §3.4.
  CHECK(core::is_fresher(base, {}, core::observe_clock(boot_plus_1h + 128s, offset), {}));
}

TEST_CASE("a relation registered again with the same token starts fresher than the old one") {
  rig r;
  r.ep.set_wall_clock_offset(std::chrono::duration_cast<core::duration>(wall_at_t0) -
                             r.t0.time_since_epoch());
  auto resource = register_observer(r, {9});
  auto last = *r.sent().at(0).uint_option(coap::opt::observe);
  // A burst: numbers run ahead of the clock by a few.
  for (int i = 1; i <= 5; ++i) {
    r.ep.notify(resource, value(std::to_string(i)), r.t0 + 1ms * i);
    auto n = r.sent().at(0);
    auto seq = *n.uint_option(coap::opt::observe);
    CHECK(core::is_fresher(last, {}, seq, {}));
    last = seq;
    ack(r, n, r.t0 + 1ms * i);
  }
  auto dereg = observe_get(300, {9});
  dereg.set_uint_option(coap::opt::observe, 1);
  r.receive(dereg, r.t0 + 1s);
  auto fw = r.ep.take_forwards();
  r.ep.on_response(fw.at(0).id, coap::make_response(fw[0].request, coap::codes::content),
                   r.t0 + 1s);
  r.sent();
  REQUIRE(r.ep.observers() == 0);

  // The same token again, well within 128 s: the client must take it as fresh.
  auto req = observe_get(301, {9});
  r.receive(req, r.t0 + 2s);
  fw = r.ep.take_forwards();
  r.ep.on_response(fw.at(0).id, coap::make_response(fw[0].request, coap::codes::content),
                   r.t0 + 2s);
  auto again = *r.sent().at(0).uint_option(coap::opt::observe);
  CHECK(core::is_fresher(last, {}, again, {}));
}

TEST_CASE("a relation ended and registered again within one tick still starts fresher") {
  rig r;  // loopback with a cached read: the three exchanges within a millisecond
  register_observer(r, {9});
  auto first = *r.sent().at(0).uint_option(coap::opt::observe);
  auto dereg = observe_get(300, {9});
  dereg.set_uint_option(coap::opt::observe, 1);
  r.receive(dereg, r.t0);
  auto fw = r.ep.take_forwards();
  r.ep.on_response(fw.at(0).id, coap::make_response(fw[0].request, coap::codes::content), r.t0);
  r.sent();
  REQUIRE(r.ep.observers() == 0);
  register_observer(r, {9}, client, 301);
  auto again = *r.sent().at(0).uint_option(coap::opt::observe);
  CHECK(core::is_fresher(first, {}, again, {}));
}

TEST_CASE("after a failover another instance's numbers are fresher than the first one's") {
  // Two instances: different steady clocks, one wall clock.
  rig a;
  rig b;
  b.t0 = time_point{std::chrono::hours(50)};
  a.ep.set_wall_clock_offset(std::chrono::duration_cast<core::duration>(wall_at_t0) -
                             a.t0.time_since_epoch());
  b.ep.set_wall_clock_offset(std::chrono::duration_cast<core::duration>(wall_at_t0) -
                             b.t0.time_since_epoch());
  auto resource = register_observer(a, {4});
  auto last = *a.sent().at(0).uint_option(coap::opt::observe);
  for (int i = 1; i <= 3; ++i) {
    a.ep.notify(resource, value(std::to_string(i)), a.t0 + 1s * i);
    auto n = a.sent().at(0);
    last = *n.uint_option(coap::opt::observe);
    ack(a, n, a.t0 + 1s * i);
  }
  // The balancer moves the client to b, which it registers with 2 s later.
  b.t0 += 5s;
  register_observer(b, {4});
  auto first_on_b = *b.sent().at(0).uint_option(coap::opt::observe);
  CHECK(core::is_fresher(last, {}, first_on_b, {}));
}
