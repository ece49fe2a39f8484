// The upstream admission gate (runner/upstream_admission.hpp): a fair share per source address,
// the reserve that makes safe requests shed first, and tickets that give their slot back.
#include "runner/upstream_admission.hpp"

#include <catch2/catch.hpp>
#include <utility>
#include <vector>

namespace gw::runner {
namespace {

core::address_key v4(std::uint8_t last, std::uint16_t port = 5683) {
  return core::address_of(core::peer{0, false, {127, 0, 0, last}, port});
}

// 2001:db8:0:<net>::<id>
core::address_key v6(std::uint8_t net, std::uint8_t id) {
  return core::address_of(
      core::peer{1, true, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, net, 0, 0, 0, 0, 0, 0, 0, id}, 5683});
}

admission_options small(std::size_t capacity) {
  admission_options o;
  o.capacity = capacity;
  return o;
}

using tickets = std::vector<upstream_admission::ticket>;

// Admits `n` from `source`; all must be admitted.
void fill(upstream_admission& gate, tickets& held, const std::optional<core::address_key>& source,
          bool safe, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    auto t = gate.admit(source, safe);
    REQUIRE(t);
    held.push_back(std::move(*t));
  }
}

TEST_CASE("limits from the options: share at least 4, reserve of capacity", "[runner][admission]") {
  CHECK(upstream_admission(small(1040)).per_source_limit() == 130);
  CHECK(upstream_admission(small(1040)).safe_limit() == 910);
  CHECK(upstream_admission(small(8)).per_source_limit() == 4);  // 1/8 of 8 is 1: the floor
  CHECK(upstream_admission(small(8)).safe_limit() == 7);
  auto o = small(100);
  o.per_source_share = 0.5;
  o.unsafe_reserve = 0;
  CHECK(upstream_admission(o).per_source_limit() == 50);
  CHECK(upstream_admission(o).safe_limit() == 100);
}

TEST_CASE("one address holds at most its share, whatever its ports", "[runner][admission]") {
  upstream_admission gate(small(80));  // share 10, reserve 10
  tickets held;
  for (std::uint16_t port = 1; port <= 10; ++port) {
    auto t = gate.admit(v4(2, port), true);
    REQUIRE(t);
    held.push_back(std::move(*t));
  }
  shed_reason why{};
  CHECK_FALSE(gate.admit(v4(2, 9999), true, &why));
  CHECK(why == shed_reason::source_share);
  CHECK_FALSE(gate.admit(v4(2, 9999), false));  // writes too: the share is per address
  CHECK(gate.stats().refused_by(shed_reason::source_share) == 2);
  // Another address is not touched by it.
  CHECK(gate.admit(v4(3), true));
  CHECK(gate.stats().admitted == 10);  // the temporary ticket above went back at once
}

TEST_CASE("a source exempt from the address tier has no share, but the lane's limits",
          "[runner][admission]") {
  upstream_admission gate(small(16));  // share 4, safe up to 14
  tickets held;
  fill(gate, held, std::nullopt, true, 14);
  CHECK(gate.stats().addresses == 0);
  shed_reason why{};
  CHECK_FALSE(gate.admit(std::nullopt, true, &why));
  CHECK(why == shed_reason::safe_shed);
  held.clear();
  CHECK(gate.stats().admitted == 0);
}

TEST_CASE("IPv6 sources share by /64", "[runner][admission]") {
  upstream_admission gate(small(8));  // share 4
  tickets held;
  for (std::uint8_t id = 1; id <= 4; ++id) fill(gate, held, v6(1, id), true, 1);
  CHECK_FALSE(gate.admit(v6(1, 200), true));
  CHECK(gate.admit(v6(2, 1), true));
}

TEST_CASE("when the lane fills, safe requests are shed first", "[runner][admission]") {
  upstream_admission gate(small(16));  // share 4, reserve 2: safe ones up to 14
  tickets held;
  for (std::uint8_t a = 1; a <= 3; ++a) fill(gate, held, v4(a), true, 4);
  fill(gate, held, v4(4), true, 2);
  REQUIRE(gate.stats().admitted == 14);

  shed_reason why{};
  CHECK_FALSE(gate.admit(v4(5), true, &why));
  CHECK(why == shed_reason::safe_shed);
  // The reserve still takes unsafe requests, then nothing does.
  fill(gate, held, v4(5), false, 1);
  fill(gate, held, v4(6), false, 1);
  CHECK_FALSE(gate.admit(v4(7), false, &why));
  CHECK(why == shed_reason::full);
  CHECK_FALSE(gate.admit(v4(7), true, &why));
  CHECK(why == shed_reason::full);

  const auto s = gate.stats();
  CHECK(s.refused_by(shed_reason::safe_shed) == 1);
  CHECK(s.refused_by(shed_reason::full) == 2);
  CHECK(s.refused_by(shed_reason::source_share) == 0);
  CHECK(s.admitted == 16);
  CHECK(s.addresses == 6);
}

TEST_CASE("a ticket gives its slot back when destroyed, once", "[runner][admission]") {
  upstream_admission gate(small(8));
  tickets held;
  fill(gate, held, v4(2), false, 4);
  REQUIRE_FALSE(gate.admit(v4(2), false));

  held.pop_back();
  CHECK(gate.stats().admitted == 3);
  CHECK(gate.admit(v4(2), false));  // admitted, and released at the end of the statement
  CHECK(gate.stats().admitted == 3);

  held.clear();
  CHECK(gate.stats().admitted == 0);
  CHECK(gate.stats().addresses == 0);
}

TEST_CASE("moving a ticket moves its slot; the moved-from one releases nothing",
          "[runner][admission]") {
  upstream_admission gate(small(8));
  std::optional<upstream_admission::ticket> a = gate.admit(v4(2), true);
  REQUIRE(a);
  {
    upstream_admission::ticket b(std::move(*a));
    a.reset();  // destroys the moved-from ticket
    CHECK(gate.stats().admitted == 1);

    // Move assignment releases the target's own slot first.
    auto c = gate.admit(v4(3), true);
    REQUIRE(c);
    CHECK(gate.stats().admitted == 2);
    *c = std::move(b);
    CHECK(gate.stats().admitted == 1);
    CHECK(gate.stats().addresses == 1);  // v4(3) gone, v4(2) held by c
  }
  CHECK(gate.stats().admitted == 0);
  CHECK(gate.stats().addresses == 0);
}

TEST_CASE("a smaller capacity after a reload applies to new requests only", "[runner][admission]") {
  upstream_admission gate(small(16));
  tickets held;
  fill(gate, held, v4(2), false, 4);
  fill(gate, held, v4(3), false, 4);
  gate.set_options(small(8));
  CHECK_FALSE(gate.admit(v4(4), false));
  held.clear();
  CHECK(gate.stats().admitted == 0);
  CHECK(gate.admit(v4(4), false));
}

}  // namespace
}  // namespace gw::runner
