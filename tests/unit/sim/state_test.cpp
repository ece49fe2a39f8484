#include <catch2/catch.hpp>

#include "sim/state.hpp"
#include "sim_fixture.hpp"

using gw::sim::is_newer;
using gw::sim::point;

TEST_CASE("is_newer: a later second, or a write after the wait began in the same second",
          "[state]") {
  struct row {
    gw::sim::unix_seconds ts;
    std::uint64_t seq;
    gw::sim::unix_seconds since;
    std::uint64_t seq_at_start;
    bool newer;
  };
  const row rows[] = {
      {101, 1, 100, 5, true},   // later second, written before the wait: still newer
      {101, 9, 100, 5, true},   // later second, written during the wait
      {100, 9, 100, 5, true},   // same second, written during the wait
      {100, 5, 100, 5, false},  // same second, the last write before the wait
      {100, 1, 100, 5, false},  // same second, older write
      {99, 9, 100, 5, false},   // an older timestamp recorded during the wait
      {99, 1, 100, 5, false},
  };
  for (const auto& r : rows) {
    INFO("ts=" << r.ts << " seq=" << r.seq << " since=" << r.since << " start=" << r.seq_at_start);
    CHECK(is_newer(point{r.ts, "v", r.seq}, r.since, r.seq_at_start) == r.newer);
  }
}

TEST_CASE("append keeps points ordered by timestamp, then write order", "[state]") {
  gw::sim::state st;
  auto& d = st.add_device("v", "m", "1");
  auto& port = st.add_dataport(d, "a", 0);
  int changes = 0;
  st.set_on_change([&] { ++changes; });
  st.append(port, 20, "x");
  st.append(port, 10, "old");
  st.append(port, 20, "y");
  CHECK(changes == 3);
  REQUIRE(port.points.size() == 3);
  CHECK(port.points[0].value == "old");
  CHECK(port.latest()->value == "y");
  CHECK(port.latest()->seq == st.last_seq());
  st.flush(port, 5, 20);
  REQUIRE(port.points.size() == 2);
  CHECK(port.points.front().value == "x");
  st.flush(port, std::nullopt, std::nullopt);
  CHECK(port.points.empty());
}

TEST_CASE("RIDs are stable 40-hex strings; created ones are distinct", "[state]") {
  gw::sim::state a, b;
  auto& da = a.add_device("demo", "gateway", "0001");
  auto& db = b.add_device("demo", "gateway", "0001");
  CHECK(a.add_dataport(da, "temp", 0).rid == b.add_dataport(db, "temp", 0).rid);
  CHECK(gw::sim::is_hex40(da.rid));
  CHECK(da.rid != a.add_dataport(da, "humidity", 0).rid);
  const auto c1 = a.create_dataport(da, "", "string", 0).rid;
  const auto c2 = a.create_dataport(da, "", "string", 0).rid;
  CHECK(c1 != c2);
  CHECK(a.drop_dataport(da, c1));
  CHECK_FALSE(a.drop_dataport(da, c1));
  // Dropping removes the aliases that named it.
  const auto temp_rid = da.aliases.at("temp");
  CHECK(a.drop_dataport(da, temp_rid));
  CHECK(gw::sim::state::find_alias(da, "temp") == nullptr);
}

TEST_CASE("CIK lookup ignores the case of the hex digits", "[state]") {
  auto st = sim_test::example_state();
  REQUIRE(st.find_by_cik(sim_test::demo_cik) != nullptr);
  CHECK(st.find_by_cik("A32C85BA9DDA45823BE416246CF8B433BAA068D7") ==
        st.find_by_cik(sim_test::demo_cik));
  CHECK(st.find_by_cik("") == nullptr);
  CHECK(st.find_by_cik("0000000000000000000000000000000000000000") == nullptr);
}

TEST_CASE("new_cik is 40 lower-case hex and follows the seed", "[state]") {
  gw::sim::state a, b;
  a.seed(42);
  b.seed(42);
  const auto cik = a.new_cik();
  CHECK(gw::sim::is_hex40(cik));
  CHECK(gw::sim::to_lower(cik) == cik);
  CHECK(b.new_cik() == cik);
  CHECK(a.new_cik() != cik);
}
