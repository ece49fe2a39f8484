// Fair limits in two tiers (gateway/core/source_limits.hpp), in virtual time: the policy on its
// own, then each covered resource attacked from many ports of one address through the endpoint
// while a client on another address is still served.
#include <catch2/catch.hpp>

#include "gateway/core/source_limits.hpp"
#include "tests/unit/core/endpoint_rig.hpp"

namespace gw::test {
namespace {

core::peer v4(std::uint8_t last, std::uint16_t port) {
  return core::peer{0, false, {127, 0, 0, last}, port};
}

core::peer v6(std::array<std::uint8_t, 16> a, std::uint16_t port) {
  return core::peer{1, true, a, port};
}

// 2001:db8:0:1::<id>, one /64 whatever the interface id.
core::peer in_64(std::uint8_t id, std::uint16_t port) {
  return v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, id}, port);
}

core::source_limit_options small_limits() {
  core::source_limit_options o;
  o.per_source = {2, 2, 2, 2, 1000, 1000};
  o.per_address = {4, 4, 4, 4, 1000, 1000};
  return o;
}

// Source: 10/s, burst 5; address: 10/s, burst 8.
core::source_limit_options slow_buckets() {
  auto o = small_limits();
  o.per_source.rate = 10;
  o.per_source.burst = 5;
  o.per_address.rate = 10;
  o.per_address.burst = 8;
  return o;
}

coap::message block0(std::uint16_t mid, std::string_view path) {
  auto m = request(coap::type::con, coap::codes::post, mid, {});
  m.options.clear();
  m.add_option(coap::opt::uri_path, std::string(path));
  m.add_option(coap::opt::block1, coap::encode_block({0, true, 0}));
  m.payload = coap::bytes(16, 0x41);
  return m;
}

coap::message observe_get(std::uint16_t mid, std::string_view alias) {
  auto m = request(coap::type::con, coap::codes::get, mid, {0x01});
  m.options.clear();
  m.add_option(coap::opt::observe, coap::bytes{});
  m.add_option(coap::opt::uri_path, "1a");
  m.add_option(coap::opt::uri_path, std::string(alias));
  m.add_option(coap::opt::uri_query, "cik");
  return m;
}

}  // namespace

TEST_CASE("the per-address tier groups IPv4 by address and IPv6 by /64") {
  CHECK(core::address_of(v4(2, 1000)) == core::address_of(v4(2, 2000)));
  CHECK_FALSE(core::address_of(v4(2, 1000)) == core::address_of(v4(3, 1000)));
  CHECK(core::address_of(in_64(1, 5683)) == core::address_of(in_64(200, 9)));
  auto next_64 = in_64(1, 5683);
  next_64.address[7] = 2;  // 2001:db8:0:2::1
  CHECK_FALSE(core::address_of(next_64) == core::address_of(in_64(1, 5683)));
  // ::ffff:127.0.0.2 from a dual-stack socket is 127.0.0.2.
  const auto mapped = v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2}, 7);
  CHECK(core::address_of(mapped) == core::address_of(v4(2, 1)));
}

TEST_CASE("trusted proxy prefixes parse and match") {
  auto net8 = core::parse_address_prefix("10.0.0.0/8");
  REQUIRE(net8);
  CHECK(core::prefix_contains(*net8, core::peer{0, false, {10, 9, 8, 7}, 1}));
  CHECK_FALSE(core::prefix_contains(*net8, core::peer{0, false, {11, 0, 0, 1}, 1}));
  // An IPv4 prefix matches the same address mapped into IPv6.
  CHECK(
      core::prefix_contains(*net8, v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3}, 1)));
  auto host = core::parse_address_prefix("127.0.0.2");
  REQUIRE(host);
  CHECK(host->length == 32);
  CHECK(core::prefix_contains(*host, v4(2, 1)));
  CHECK_FALSE(core::prefix_contains(*host, v4(3, 1)));
  auto doc = core::parse_address_prefix("[2001:db8::]/33");
  REQUIRE(doc);
  CHECK(core::prefix_contains(*doc, in_64(1, 1)));
  CHECK_FALSE(core::prefix_contains(*doc, v4(2, 1)));
  for (auto bad : {"", "10.0.0.0/33", "::/129", "10.0.0", "host.example", "10.0.0.0/", "1.2.3.4/x"})
    CHECK_FALSE(core::parse_address_prefix(bad));
}

TEST_CASE("two tiers: strict per source, generous per address, trusted proxies exempt") {
  core::source_limits limits(small_limits());
  core::source_counts counts;
  using core::limited;
  counts.add(v4(2, 1));
  counts.add(v4(2, 1));
  CHECK(limits.refuses(limited::in_flight, counts, v4(2, 1)) == core::limit_tier::source);
  counts.add(v4(2, 2));
  counts.add(v4(2, 3));
  CHECK(counts.of_address(v4(2, 9)) == 4);
  CHECK(limits.refuses(limited::in_flight, counts, v4(2, 9)) == core::limit_tier::address);
  CHECK_FALSE(limits.refuses(limited::in_flight, counts, v4(3, 9)));
  // Behind a balancer every device has the balancer's address: only the per-source tier.
  auto o = small_limits();
  o.trusted_proxies.push_back(*core::parse_address_prefix("127.0.0.2"));
  limits.set_options(o);
  CHECK_FALSE(limits.refuses(limited::in_flight, counts, v4(2, 9)));
  CHECK(limits.refuses(limited::in_flight, counts, v4(2, 1)) == core::limit_tier::source);
  o = small_limits();
  o.address_tier = false;
  limits.set_options(o);
  CHECK_FALSE(limits.refuses(limited::in_flight, counts, v4(2, 9)));
  // Counts go with the last remove.
  for (auto p : {v4(2, 1), v4(2, 1), v4(2, 2), v4(2, 3)}) counts.remove(p);
  CHECK(counts.of_address(v4(2, 1)) == 0);
  CHECK(counts.sources() == 0);
}

TEST_CASE("counts at zero are kept for clients that come back and swept past a bound") {
  // A client with one request at a time takes its count to zero after every answer: the entry
  // stays (no map node made and freed per request) until zeros far outnumber live counts.
  core::source_counts counts;
  const auto peer_n = [](std::uint32_t n) {
    return core::peer{0,
                      false,
                      {10, std::uint8_t(n >> 16), std::uint8_t(n >> 8), std::uint8_t(n)},
                      static_cast<std::uint16_t>(1000 + n % 7)};
  };
  counts.add(peer_n(0));  // one live count throughout
  for (std::uint32_t n = 1; n <= 5000; ++n) {
    counts.add(peer_n(n));
    counts.add(peer_n(n));
    counts.remove(peer_n(n));
    CHECK(counts.of_source(peer_n(n)) == 1);
    counts.remove(peer_n(n));
    CHECK(counts.of_source(peer_n(n)) == 0);
    CHECK(counts.of_address(peer_n(n)) == 0);
    REQUIRE(counts.sources() == 1);
  }
  // Back after its entry was swept, or while it is still there: counted from zero either way.
  for (std::uint32_t n : {1u, 4999u, 5000u}) {
    counts.add(peer_n(n));
    CHECK(counts.of_source(peer_n(n)) == 1);
    CHECK(counts.of_address(peer_n(n)) == 1);
  }
  CHECK(counts.sources() == 4);
  CHECK(counts.of_source(peer_n(0)) == 1);
}

TEST_CASE("token buckets: burst, refill in virtual time, both tiers") {
  core::source_limits limits(slow_buckets());
  const time_point t0{std::chrono::hours(1)};
  for (int i = 0; i < 5; ++i) CHECK_FALSE(limits.admit(v4(2, 1), t0));
  CHECK(limits.admit(v4(2, 1), t0) == core::limit_tier::source);
  CHECK(limits.retry_after_s(v4(2, 1), t0) == 1);
  CHECK_FALSE(limits.admit(v4(2, 1), t0 + 100ms));  // one token back
  CHECK(limits.admit(v4(2, 1), t0 + 100ms) == core::limit_tier::source);
  // Other ports of the same address share the address bucket: 8 - 5 + 1 - 1 left.
  CHECK_FALSE(limits.admit(v4(2, 2), t0 + 100ms));
  CHECK_FALSE(limits.admit(v4(2, 3), t0 + 100ms));
  CHECK_FALSE(limits.admit(v4(2, 4), t0 + 100ms));
  CHECK(limits.admit(v4(2, 5), t0 + 100ms) == core::limit_tier::address);
  // A refusal by one tier costs the other nothing: port 5 still has its whole burst.
  for (int i = 0; i < 5; ++i) CHECK_FALSE(limits.admit(v4(2, 5), t0 + 1s));
  // Another address is untouched.
  CHECK_FALSE(limits.admit(v4(3, 1), t0 + 100ms));
  // Refilled buckets are the same as none: dropped.
  CHECK(limits.stats().buckets > 0);
  limits.expire(t0 + 10s);
  CHECK(limits.stats().buckets == 0);
}

TEST_CASE("token buckets are bounded; the least recently used goes first") {
  auto o = small_limits();
  o.max_buckets = 3;
  core::source_limits limits(o);
  const time_point t0{std::chrono::hours(1)};
  for (std::uint16_t port = 1; port <= 10; ++port) limits.admit(v4(2, port), t0);
  CHECK(limits.stats().buckets == 3 + 1);  // three sources, one address
}

TEST_CASE("over its token bucket: dropped unverified, 4.29 with Max-Age verified") {
  core::endpoint_config cfg;
  cfg.limits = slow_buckets();
  cfg.amplification.factor = 3;
  core::endpoint ep(cfg, 42);
  const time_point t0{std::chrono::hours(1)};
  const auto attacker = v4(2, 1000);
  auto send = [&](const core::peer& from, std::uint16_t mid, time_point now) {
    auto b = coap::encode(request(coap::type::con, coap::codes::get, mid));
    ep.on_datagram(from, b, now);
    for (auto& f : ep.take_forwards())
      ep.on_response(f.id, coap::make_response(f.request, coap::codes::content), now);
    return ep.take_sends();
  };
  for (std::uint16_t i = 0; i < 5; ++i) CHECK(send(attacker, i, t0).size() == 1);
  CHECK(send(attacker, 5, t0).empty());  // unverified: no answer at all
  CHECK(ep.stats().limits.rate_dropped[0] == 1);
  ep.mark_verified(attacker, t0);
  auto refused = send(attacker, 6, t0);
  REQUIRE(refused.size() == 1);
  auto m = decode(refused[0].datagram);
  CHECK(m.code == coap::codes::too_many_requests);
  CHECK(m.uint_option(coap::opt::max_age) == 1u);
  CHECK(m.type == coap::type::ack);
  CHECK(ep.stats().limits.rate_answered[0] == 1);
  // Not cached: a copy after the refill runs.
  CHECK(decode(send(attacker, 6, t0 + 1s)[0].datagram).code == coap::codes::content);
  // Another address is served throughout.
  CHECK(decode(send(v4(3, 1), 1, t0)[0].datagram).code == coap::codes::content);
}

TEST_CASE("requests in flight: many ports of one address, another address still served") {
  core::endpoint_config cfg;
  cfg.limits = small_limits();  // in flight: 2 per source, 4 per address
  rig r(cfg);
  std::vector<core::forward_action> held;
  for (std::uint16_t port = 1; port <= 10; ++port) {
    r.receive(request(coap::type::con, coap::codes::post, port), r.t0, v4(2, port));
    for (auto& f : r.ep.take_forwards()) held.push_back(std::move(f));
  }
  CHECK(held.size() == 4);
  auto refusals = r.sent();
  REQUIRE(refusals.size() == 6);
  for (auto& m : refusals) {
    CHECK(m.code == coap::codes::service_unavailable);
    CHECK(m.uint_option(coap::opt::max_age) == cfg.overload_max_age_s);
  }
  CHECK(r.ep.stats().limits.refused[2][1] == 6);  // in_flight, address tier
  r.receive(request(coap::type::con, coap::codes::post, 1), r.t0, v4(3, 1));
  CHECK(r.ep.take_forwards().size() == 1);
  // Answers free the slots: port 7 gets through afterwards.
  for (auto& f : held)
    r.ep.on_response(f.id, coap::make_response(f.request, coap::codes::changed), r.t0 + 1s);
  r.sent();
  r.receive(request(coap::type::con, coap::codes::post, 99), r.t0 + 1s, v4(2, 7));
  CHECK(r.ep.take_forwards().size() == 1);
}

TEST_CASE("a source's own in-flight limit holds before its address's") {
  core::endpoint_config cfg;
  cfg.limits = small_limits();
  rig r(cfg);
  for (std::uint16_t mid = 1; mid <= 3; ++mid)
    r.receive(request(coap::type::con, coap::codes::post, mid), r.t0, v4(2, 1));
  CHECK(r.ep.take_forwards().size() == 2);
  CHECK(r.ep.stats().limits.refused[2][0] == 1);
}

TEST_CASE("running safe dedup entries are bounded per address") {
  core::endpoint_config cfg;
  cfg.limits = small_limits();
  cfg.limits.per_source.in_flight = cfg.limits.per_address.in_flight = 100;
  rig r(cfg);
  for (std::uint16_t port = 1; port <= 6; ++port)
    r.receive(request(coap::type::con, coap::codes::get, port), r.t0, v4(2, port));
  auto forwards = r.ep.take_forwards();
  CHECK(forwards.size() == 4);
  CHECK(r.ep.stats().dedup_safe_running == 4);
  CHECK(r.ep.stats().limits.refused[3][1] == 2);
  auto refused = r.sent();
  REQUIRE(refused.size() == 2);
  CHECK(refused[0].code == coap::codes::service_unavailable);
  // Answered entries no longer count.
  for (auto& f : forwards)
    r.ep.on_response(f.id, coap::make_response(f.request, coap::codes::content), r.t0);
  CHECK(r.ep.stats().dedup_safe_running == 0);
  r.receive(request(coap::type::con, coap::codes::get, 50), r.t0, v4(2, 50));
  CHECK(r.ep.take_forwards().size() == 1);
}

TEST_CASE("Block1 transfers per address: ports of one address, an IPv6 /64, freed at expiry") {
  core::endpoint_config cfg;
  cfg.limits = small_limits();  // Block1: 4 per address
  rig r(cfg);
  int continued = 0;
  for (std::uint16_t port = 1; port <= 8; ++port) {
    r.receive(block0(port, "up"), r.t0, v4(2, port));
    for (auto& m : r.sent()) continued += m.code == coap::codes::continue_ ? 1 : 0;
  }
  CHECK(continued == 4);
  CHECK(r.ep.blocks().block1_transfers == 4);
  CHECK(r.ep.stats().limits.refused[0][1] == 4);
  // Another address starts one.
  r.receive(block0(1, "up"), r.t0, v4(3, 1));
  CHECK(r.sent().at(0).code == coap::codes::continue_);
  // IPv6: every interface id of a /64 is one address.
  continued = 0;
  for (std::uint8_t id = 1; id <= 6; ++id) {
    r.receive(block0(id, "up"), r.t0, in_64(id, 5683));
    for (auto& m : r.sent()) continued += m.code == coap::codes::continue_ ? 1 : 0;
  }
  CHECK(continued == 4);
  // Block 0 only: gone after MAX_TRANSMIT_SPAN, and the address may start again.
  r.run_until(r.t0 + 45s);
  CHECK(r.ep.blocks().block1_transfers == 0);
  r.receive(block0(100, "up"), r.t0 + 45s, v4(2, 100));
  CHECK(r.sent().at(0).code == coap::codes::continue_);
}

TEST_CASE("Observe relations per address: ports of one address get plain answers beyond it") {
  core::endpoint_config cfg;
  cfg.limits = small_limits();  // observers: 4 per address
  rig r(cfg);
  int observed = 0;
  for (std::uint16_t port = 1; port <= 7; ++port) {
    r.receive(observe_get(port, "temp"), r.t0, v4(2, port));
    for (auto& f : r.ep.take_forwards())
      r.ep.on_response(f.id, coap::make_response(f.request, coap::codes::content), r.t0);
    for (auto& m : r.sent()) observed += m.has(coap::opt::observe) ? 1 : 0;
  }
  CHECK(observed == 4);
  CHECK(r.ep.observers() == 4);
  CHECK(r.ep.stats().limits.refused[1][1] == 3);
  r.receive(observe_get(1, "temp"), r.t0, v4(3, 1));
  for (auto& f : r.ep.take_forwards())
    r.ep.on_response(f.id, coap::make_response(f.request, coap::codes::content), r.t0);
  CHECK(r.sent().at(0).has(coap::opt::observe));
  CHECK(r.ep.observers() == 5);
}

}  // namespace gw::test
