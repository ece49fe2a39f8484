// How notifications are transmitted (RFC 7641 §4.5): a newer value takes over the transmission
// of the one in flight; one notification in flight per client; Max-Age deadlines stay one per
// observation; the registry's tables hash with the process key.
#include <catch2/catch.hpp>

#include "base/keyed_hash.hpp"
#include "tests/unit/core/observe_rig.hpp"

using namespace gw::test;

namespace {

// Sends "a" at t0 + 1s and never acknowledges it; `newer` (if any) changes the value 100 ms
// later. Returns every datagram with its time, from "a" on, until t0 + 200 s.
std::vector<std::pair<time_point, coap::message>> lossy_run(rig& r, const char* newer) {
  auto resource = register_observer(r, {1});
  r.sent();
  r.ep.notify(resource, value("a"), r.t0 + 1s);
  std::vector<std::pair<time_point, coap::message>> out;
  for (auto& m : r.sent()) out.emplace_back(r.t0 + 1s, m);
  if (newer != nullptr) {
    r.ep.notify(resource, value(newer), r.t0 + 1100ms);
    CHECK(r.sent().empty());  // not at once: it waits for the next retransmission
  }
  for (auto& e : r.run_until(r.t0 + 119s)) out.push_back(e);
  return out;
}

// Ten observers of `key` on one resource, from ten ports of one address, registered at `t`.
const core::resource_key key{"a32c85ba9dda45823be416246cf8b433baa068d7", "temp"};
std::vector<core::observation_id> register_ten(core::observe_registry& reg, time_point t) {
  std::vector<core::observation_id> ids;
  for (std::uint8_t i = 0; i < 10; ++i) {
    core::peer p = client;
    p.port = static_cast<std::uint16_t>(50000 + i);
    p.forget();  // a changed field: the memo copied from `client` is not its hash
    ids.push_back(reg.on_register(p, {i}, key, value("v0"), 6, t).id);
  }
  return ids;
}

}  // namespace

TEST_CASE("a newer value replaces the notification in flight, keeping its retransmission state") {
  rig plain;
  const auto reference = lossy_run(plain, nullptr);
  REQUIRE(reference.size() == 5);  // the first transmission and MAX_RETRANSMIT more
  CHECK(plain.ep.observers() == 0);

  rig r;
  const auto replaced = lossy_run(r, "b");
  REQUIRE(replaced.size() == 5);
  // The same schedule (counter and timeout carry on), and the relation ends at the same time.
  for (std::size_t i = 0; i < 5; ++i) CHECK(replaced[i].first == reference[i].first);
  CHECK(r.ep.observers() == 0);

  const auto& first = replaced[0].second;
  CHECK(first.payload_text() == "a");
  const auto& taken_over = replaced[1].second;
  CHECK(taken_over.payload_text() == "b");
  CHECK(taken_over.mid != first.mid);  // a new message, not a retransmission of the old one
  CHECK(core::is_fresher(*first.uint_option(coap::opt::observe), {},
                         *taken_over.uint_option(coap::opt::observe), {}));
  for (std::size_t i = 2; i < 5; ++i) {  // then retransmitted as itself
    CHECK(replaced[i].second.payload_text() == "b");
    CHECK(replaced[i].second.mid == taken_over.mid);
  }
}

TEST_CASE("the replacement's ACK settles the relation; the old MID's ACK changes nothing") {
  rig r;
  auto resource = register_observer(r, {1});
  r.sent();
  r.ep.notify(resource, value("a"), r.t0 + 1s);
  auto a = r.sent().at(0);
  r.ep.notify(resource, value("b"), r.t0 + 1100ms);
  auto resent = r.run_until(r.t0 + 4s);
  REQUIRE(resent.size() == 1);
  auto b = resent[0].second;
  CHECK(b.payload_text() == "b");
  ack(r, a, r.t0 + 4s);  // late ACK of the replaced message
  CHECK(r.sent().empty());
  ack(r, b, r.t0 + 4s);
  CHECK(r.sent().empty());
  CHECK(r.ep.idle());
  CHECK(r.ep.observers() == 1);
  r.ep.notify(resource, value("c"), r.t0 + 5s);
  auto c = r.sent();
  REQUIRE(c.size() == 1);  // nothing in flight: at once
  CHECK(c[0].payload_text() == "c");
}

TEST_CASE("one notification in flight per client, across its relations; the others wait") {
  rig r;
  auto temp = register_observer(r, {}, client, 100, "temp");
  auto humidity = register_observer(r, {}, client, 101, "humidity");
  register_observer(r, {5}, other_client, 102, "humidity");
  r.sent();
  r.ep.notify(temp, value("21"), r.t0 + 1s);
  r.ep.notify(humidity, value("40"), r.t0 + 1s);
  auto out = r.sent();
  REQUIRE(out.size() == 2);  // one to each client
  const auto& to_client = out[0].token.empty() ? out[0] : out[1];
  CHECK(to_client.payload_text() == "21");
  r.ep.notify(humidity, value("41"), r.t0 + 1500ms);  // the waiting one keeps the newest
  CHECK(r.sent().empty());
  ack(r, to_client, r.t0 + 2s);
  auto next = r.sent();
  REQUIRE(next.size() == 1);
  CHECK(next[0].payload_text() == "41");
  CHECK(next[0].token.empty());
}

TEST_CASE("separate responses are not held back by a notification in flight") {
  rig r;
  auto resource = register_observer(r, {1});
  r.sent();
  r.ep.notify(resource, value("a"), r.t0 + 1s);
  REQUIRE(r.sent().size() == 1);  // unacknowledged
  r.receive(request(coap::type::con, coap::codes::get, 500, {2}), r.t0 + 1s);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  auto acks = r.run_until(r.t0 + 2s);
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].second.code == coap::codes::empty);
  auto answer = coap::make_response(fw[0].request, coap::codes::content);
  answer.set_payload("1795000000");
  r.ep.on_response(fw[0].id, answer, r.t0 + 2500ms);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == coap::type::con);
  CHECK(out[0].payload_text() == "1795000000");
}

TEST_CASE("a change reaches its observers as they are asked for; a newer one restarts the visit") {
  core::observe_registry reg({});
  time_point t{std::chrono::hours(1)};
  const auto ids = register_ten(reg, t);
  reg.on_change(key, value("v1"), t + 1s);
  CHECK(reg.fanning_out());
  auto first = reg.take_notifications(4);
  REQUIRE(first.size() == 4);
  for (const auto& n : first) CHECK(n.content->payload_text() == "v1");

  // v2 before the other six were visited: they get v2 (none gets v1), and the four with v1 in
  // flight get v2 once they acknowledge it, as a stale value waits behind any notification.
  reg.on_change(key, value("v2"), t + 2s);
  auto rest = reg.take_notifications();
  REQUIRE(rest.size() == 6);
  for (const auto& n : rest) CHECK(n.content->payload_text() == "v2");
  CHECK_FALSE(reg.fanning_out());
  for (const auto& n : first) reg.on_acked(n.id, t + 3s);
  auto after = reg.take_notifications();
  REQUIRE(after.size() == 4);
  for (const auto& n : after) CHECK(n.content->payload_text() == "v2");
  for (const auto& n : rest) reg.on_acked(n.id, t + 3s);
  for (const auto& n : after) reg.on_acked(n.id, t + 3s);
  CHECK(reg.take_notifications().empty());

  // A relation removed before it was visited gets nothing; the others are reached all the same.
  reg.on_change(key, value("v3"), t + 4s);
  auto one = reg.take_notifications(1);
  REQUIRE(one.size() == 1);
  const auto gone = one[0].id == ids[0] ? ids[1] : ids[0];
  reg.remove(gone, t + 4s);
  auto others = reg.take_notifications();
  CHECK(others.size() == 8);
  for (const auto& n : others) CHECK(n.id != gone);
}

TEST_CASE("one armed Max-Age deadline per observation whatever the notification rate") {
  core::observe_registry reg({});
  time_point t{std::chrono::hours(1)};
  const auto ids = register_ten(reg, t);
  CHECK(reg.armed_deadlines() == 10);
  for (int round = 0; round < 1000; ++round) {
    t += 1s;
    reg.on_change(key, value(std::to_string(round)), t);
    auto sent = reg.take_notifications();
    CHECK(sent.size() == 10);
    for (auto id : ids) reg.on_acked(id, t);
    CHECK(reg.take_notifications().empty());
  }
  CHECK(reg.armed_deadlines() == 10);
  // Nothing falls due before the last notification's Max-Age: a deadline placed earlier (a
  // notification leaves it where it was) only moves on when it comes up.
  reg.on_timer(t + 119s);
  CHECK(reg.take_notifications().empty());
  CHECK(reg.armed_deadlines() == 10);
  CHECK(reg.next_deadline() == t + 120s);
  reg.on_timer(t + 120s);
  CHECK(reg.take_notifications().size() == 10);
  reg.remove(ids[0], t + 120s);
  CHECK(reg.armed_deadlines() == 9);
}

TEST_CASE("the registry's hashes are keyed by the process key") {
  const auto saved = base::process_hash_key();
  const core::resource_key resource{"a32c85ba9dda45823be416246cf8b433baa068d7", "temp"};
  // A peer keeps the hash it was first given (peer.hpp): each key gets a copy that forgot it.
  const auto observer = [] {
    auto p = client;
    p.forget();
    return core::observer_key{p, {1, 2, 3}};
  };
  base::set_process_hash_key({1, 2});
  const auto r1 = core::observe_hash{}(resource);
  const auto o1 = core::observe_hash{}(observer());
  base::set_process_hash_key({3, 4});
  const auto r2 = core::observe_hash{}(resource);
  const auto o2 = core::observe_hash{}(observer());
  base::set_process_hash_key(saved);
  CHECK(r1 != r2);
  CHECK(o1 != o2);
  // Field boundaries count: ("ab", "c") and ("a", "bc") are different resources.
  CHECK(core::observe_hash{}(core::resource_key{"ab", "c"}) !=
        core::observe_hash{}(core::resource_key{"a", "bc"}));
}
