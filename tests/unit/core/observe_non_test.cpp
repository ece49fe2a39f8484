// NON notifications for relations registered with NON requests (observe_options::
// non_notifications, RFC 7641 §4.5): CON until the client's round trip is known, then NON at
// most one per round trip, CON again every max_age, and an RST naming a NON ends the relation.
#include <catch2/catch.hpp>

#include "tests/unit/core/observe_rig.hpp"

using namespace gw::test;

namespace {

core::resource_key register_non(rig& r, coap::bytes token) {
  auto resource = register_observer(r, std::move(token), client, 100, "temp", coap::type::non);
  auto answer = r.sent();
  REQUIRE(answer.size() == 1);
  CHECK(answer[0].type == coap::type::non);  // RFC 7252 §5.2.3
  REQUIRE(answer[0].has(coap::opt::observe));
  return resource;
}

// One notification of `text` at `at`, which must go out at once.
coap::message notify(rig& r, const core::resource_key& resource, const char* text,
                     time_point at) {
  r.ep.notify(resource, value(text), at);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].payload_text() == text);
  return out[0];
}

}  // namespace

TEST_CASE("a NON relation gets CON until its round trip is known, then NON paced by it") {
  rig r;
  auto resource = register_non(r, {1});
  // No round trip yet: CON, which also proves the registration's source is really there.
  auto a = notify(r, resource, "a", r.t0 + 1s);
  CHECK(a.type == coap::type::con);
  ack(r, a, r.t0 + 1s + 20ms);  // a 20 ms round trip
  CHECK(r.ep.idle());

  auto b = notify(r, resource, "b", r.t0 + 2s);
  CHECK(b.type == coap::type::non);
  CHECK(r.ep.stats().non_notifications == 1);
  CHECK(*b.uint_option(coap::opt::max_age) == 120);
  CHECK(b.mid != a.mid);

  // Within the round trip of "b" (RFC 7641 §4.5.1): held, and only the newest goes out.
  r.ep.notify(resource, value("c"), r.t0 + 2s + 5ms);
  r.ep.notify(resource, value("d"), r.t0 + 2s + 10ms);
  CHECK(r.sent().empty());
  auto later = r.run_until(r.t0 + 2s + 100ms);
  REQUIRE(later.size() == 1);
  CHECK(later[0].first == r.t0 + 2s + 20ms);
  CHECK(later[0].second.payload_text() == "d");
  CHECK(later[0].second.type == coap::type::non);
  CHECK(core::is_fresher(*b.uint_option(coap::opt::observe), {},
                         *later[0].second.uint_option(coap::opt::observe), {}));
  // Nothing is retransmitted: no ACK is awaited.
  CHECK(r.run_until(r.t0 + 60s).empty());
  CHECK(r.ep.observers() == 1);
}

TEST_CASE("a NON relation's notification is CON again once max_age passed without one") {
  rig r;
  auto resource = register_non(r, {1});
  auto a = notify(r, resource, "a", r.t0 + 1s);
  ack(r, a, r.t0 + 1s + 20ms);
  CHECK(notify(r, resource, "b", r.t0 + 100s).type == coap::type::non);
  CHECK(r.run_until(r.t0 + 121s).empty());  // its pace ends; no refresh is due yet
  // 120 s (max_age) after "a", the last CON: a CON, whose ACK shows the client is still there.
  auto c = notify(r, resource, "c", r.t0 + 121s);
  CHECK(c.type == coap::type::con);
  ack(r, c, r.t0 + 121s + 20ms);
  CHECK(notify(r, resource, "d", r.t0 + 122s).type == coap::type::non);
}

TEST_CASE("a relation registered with a CON request stays CON with a known round trip") {
  rig r;
  auto resource = register_observer(r, {1});  // a CON registration
  r.sent();
  auto a = notify(r, resource, "a", r.t0 + 1s);
  ack(r, a, r.t0 + 1s + 20ms);
  CHECK(notify(r, resource, "b", r.t0 + 2s).type == coap::type::con);
  CHECK(r.ep.stats().non_notifications == 0);
}

TEST_CASE("a round trip is measured only from a notification sent once (Karn's rule)") {
  rig r;
  auto resource = register_non(r, {1});
  auto a = notify(r, resource, "a", r.t0 + 1s);
  auto resent = r.run_until(r.t0 + 4s);  // the first retransmission (ACK_TIMEOUT 2-3 s)
  REQUIRE(resent.size() == 1);
  ack(r, a, r.t0 + 4s);  // to the first or the second copy: no sample
  CHECK(notify(r, resource, "b", r.t0 + 5s).type == coap::type::con);
}

TEST_CASE("an RST naming a NON notification's MID ends the relation") {
  rig r;
  auto resource = register_non(r, {1});
  auto a = notify(r, resource, "a", r.t0 + 1s);
  ack(r, a, r.t0 + 1s + 20ms);
  r.ep.take_observe_events();
  auto b = notify(r, resource, "b", r.t0 + 2s);
  REQUIRE(b.type == coap::type::non);

  coap::message other;
  other.type = coap::type::rst;
  other.mid = static_cast<std::uint16_t>(b.mid + 1);
  r.receive(other, r.t0 + 2s + 10ms);
  CHECK(r.ep.observers() == 1);  // names nothing of ours
  CHECK(r.ep.stats().unmatched_acks == 1);

  coap::message reject;
  reject.type = coap::type::rst;
  reject.mid = b.mid;
  r.receive(reject, r.t0 + 2s + 10ms, client);
  CHECK(r.ep.observers() == 0);
  auto events = r.ep.take_observe_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].what == core::observe_event::kind::stopped);
  // The slot it held is gone with it: nothing fires later.
  CHECK(r.run_until(r.t0 + 10s).empty());
}

TEST_CASE("with non_notifications off every notification is CON") {
  core::endpoint_config cfg;
  cfg.observe.non_notifications = false;
  rig r(cfg);
  auto resource = register_non(r, {1});
  auto a = notify(r, resource, "a", r.t0 + 1s);
  ack(r, a, r.t0 + 1s + 20ms);
  CHECK(notify(r, resource, "b", r.t0 + 2s).type == coap::type::con);
}
