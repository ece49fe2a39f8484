// Observe (RFC 7641) through the endpoint, in virtual time.
#include <set>

#include <catch2/catch.hpp>

#include "tests/unit/core/observe_rig.hpp"

using namespace gw::test;

TEST_CASE("registration answers with Observe and Max-Age and starts watching the resource") {
  for (bool one_byte : {false, true}) {
    rig r;
    auto req = observe_get(1, {0xA1}, one_byte);
    r.receive(req, r.t0);
    auto fw = r.ep.take_forwards();
    REQUIRE(fw.size() == 1);
    r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), r.t0);
    auto out = r.sent();
    REQUIRE(out.size() == 1);
    CHECK(out[0].type == coap::type::ack);
    // RFC 7641 §4.4: numbered by the (wall) clock, not from 0 (observe_sequence_test.cpp).
    CHECK(out[0].uint_option(coap::opt::observe) == core::observe_clock(r.t0, {}));
    auto max_age = out[0].find(coap::opt::max_age);
    REQUIRE(max_age != nullptr);
    CHECK(max_age->value == coap::bytes{120});  // one byte on the wire
    auto events = r.ep.take_observe_events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].what == core::observe_event::kind::started);
    CHECK(events[0].request.path_string() == "/1a/temp");
    CHECK(r.ep.observers() == 1);
  }
}

TEST_CASE("an error answer registers nothing") {
  rig r;
  r.receive(observe_get(1, {0xA1}), r.t0);
  auto fw = r.ep.take_forwards();
  r.ep.on_response(fw[0].id, coap::make_error(fw[0].request, coap::codes::forbidden, "no"), r.t0);
  auto out = r.sent();
  CHECK_FALSE(out.at(0).has(coap::opt::observe));
  CHECK(r.ep.take_observe_events().empty());
  CHECK(r.ep.observers() == 0);
}

TEST_CASE("a change is notified to every observer with increasing sequence numbers") {
  rig r;
  auto resource = register_observer(r, {1});
  register_observer(r, {2}, other_client, 101);
  r.sent();
  CHECK(r.ep.take_observe_events().size() == 1);  // one watch for both observers

  std::uint32_t last_seq = 0;
  for (int i = 1; i <= 3; ++i) {
    r.ep.notify(resource, value("v" + std::to_string(i)), r.t0 + 1s * i);
    auto out = r.sent();
    REQUIRE(out.size() == 2);
    for (auto& n : out) {
      CHECK(n.type == coap::type::con);
      CHECK(n.code == coap::codes::content);
      CHECK(n.payload_text() == "v" + std::to_string(i));
      CHECK(n.uint_option(coap::opt::content_format) == 0u);
      CHECK(n.find(coap::opt::max_age)->value == coap::bytes{120});
      CHECK(*n.uint_option(coap::opt::observe) > last_seq);
    }
    CHECK(out[0].token != out[1].token);
    last_seq = *out[0].uint_option(coap::opt::observe);
    for (auto& n : out) ack(r, n, r.t0 + 1s * i, n.token == coap::bytes{1} ? client : other_client);
  }
}

TEST_CASE("a fan-out is encoded a batch at a time; a relation ended meanwhile gets nothing") {
  rig r;
  core::resource_key resource;
  for (std::uint8_t i = 0; i < 10; ++i) {
    const core::peer p{0, false, {127, 0, 0, 1}, static_cast<std::uint16_t>(41000 + i)};
    resource = register_observer(r, {i}, p, static_cast<std::uint16_t>(100 + i));
  }
  r.sent();
  r.ep.notify(resource, value("v1"), r.t0 + 1s);
  std::set<std::uint16_t> served;
  auto take = [&](std::size_t expected) {
    auto batch = r.ep.take_sends(4);
    CHECK(batch.size() == expected);
    for (const auto& s : batch) {
      CHECK(decode(s.datagram).payload_text() == "v1");
      CHECK(served.insert(s.peer.port).second);
    }
  };
  take(4);
  // A client still waiting for its notification deregisters before the next batch is taken.
  std::uint16_t leaving = 41000;
  while (served.contains(leaving)) ++leaving;
  auto bye = observe_get(300, {static_cast<std::uint8_t>(leaving - 41000)});
  bye.set_uint_option(coap::opt::observe, 1);
  r.receive(bye, r.t0 + 1s, core::peer{0, false, {127, 0, 0, 1}, leaving});
  CHECK(r.ep.observers() == 9);
  take(4);
  take(1);
  take(0);
  CHECK_FALSE(served.contains(leaving));
  CHECK(served.size() == 9);
}

TEST_CASE("a slow observer gets only the newest value, once it acknowledges") {
  rig r;
  auto resource = register_observer(r, {1});
  r.sent();
  r.ep.notify(resource, value("a"), r.t0 + 1s);
  auto first = r.sent();
  REQUIRE(first.size() == 1);
  r.ep.notify(resource, value("b"), r.t0 + 1100ms);
  r.ep.notify(resource, value("c"), r.t0 + 1200ms);
  CHECK(r.sent().empty());  // nothing queues behind the unacknowledged one
  ack(r, first[0], r.t0 + 1500ms);
  auto next = r.sent();
  REQUIRE(next.size() == 1);
  CHECK(next[0].payload_text() == "c");
}

TEST_CASE("an observer that never acknowledges is removed after the retransmissions") {
  rig r;
  auto resource = register_observer(r, {1});
  r.sent();
  r.ep.take_observe_events();
  r.ep.notify(resource, value("a"), r.t0 + 1s);
  CHECK(r.sent().size() == 1);
  auto resends = r.run_until(r.t0 + 200s);
  CHECK(resends.size() == 4);  // MAX_RETRANSMIT
  CHECK(r.ep.observers() == 0);
  auto events = r.ep.take_observe_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].what == core::observe_event::kind::stopped);
  CHECK(events[0].resource == resource);
}

TEST_CASE("an RST to a notification removes the observer") {
  rig r;
  auto resource = register_observer(r, {1});
  r.sent();
  r.ep.notify(resource, value("a"), r.t0 + 1s);
  auto n = r.sent().at(0);
  coap::message rst;
  rst.type = coap::type::rst;
  rst.mid = n.mid;
  r.receive(rst, r.t0 + 2s);
  CHECK(r.ep.observers() == 0);
  r.ep.notify(resource, value("b"), r.t0 + 3s);
  CHECK(r.sent().empty());
}

TEST_CASE("Observe 1 with the same token on the same resource ends the relation") {
  rig r;
  auto resource = register_observer(r, {7});
  r.sent();
  r.ep.take_observe_events();
  auto req = observe_get(200, {7});
  req.set_uint_option(coap::opt::observe, 1);
  r.receive(req, r.t0 + 1s);
  CHECK(r.ep.observers() == 0);
  auto events = r.ep.take_observe_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].what == core::observe_event::kind::stopped);
  CHECK(events[0].resource == resource);
  // The deregistering GET is still a GET: it is answered, without Observe.
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), r.t0 + 1s);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK_FALSE(out[0].has(coap::opt::observe));
  CHECK(r.ep.observers() == 0);
}

TEST_CASE("one client with an empty token observes two dataports at once") {
  rig r;
  auto temp = register_observer(r, {}, client, 100, "temp");
  auto humidity = register_observer(r, {}, client, 101, "humidity");
  auto answers = r.sent();
  REQUIRE(answers.size() == 2);
  for (auto& a : answers) CHECK(a.uint_option(coap::opt::observe).has_value());
  CHECK(r.ep.observers() == 2);
  auto events = r.ep.take_observe_events();
  REQUIRE(events.size() == 2);  // one upstream watch per dataport
  CHECK(events[0].resource == temp);
  CHECK(events[1].resource == humidity);

  r.ep.notify(temp, value("21.5"), r.t0 + 1s);
  auto t = r.sent();
  REQUIRE(t.size() == 1);
  CHECK(t[0].payload_text() == "21.5");
  CHECK(t[0].token.empty());
  ack(r, t[0], r.t0 + 1s);
  r.ep.notify(humidity, value("40"), r.t0 + 2s);
  auto h = r.sent();
  REQUIRE(h.size() == 1);
  CHECK(h[0].payload_text() == "40");
  CHECK(r.ep.take_observe_events().empty());
}

TEST_CASE("Observe 1 on one resource leaves the same token's relation on another") {
  rig r;
  auto temp = register_observer(r, {}, client, 100, "temp");
  auto humidity = register_observer(r, {}, client, 101, "humidity");
  r.sent();
  r.ep.take_observe_events();
  auto req = observe_get(200, {}, false, "temp");
  req.set_uint_option(coap::opt::observe, 1);
  r.receive(req, r.t0 + 1s);
  CHECK(r.ep.observers() == 1);
  auto events = r.ep.take_observe_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].what == core::observe_event::kind::stopped);
  CHECK(events[0].resource == temp);

  r.ep.notify(temp, value("gone"), r.t0 + 2s);
  CHECK(r.sent().empty());
  r.ep.notify(humidity, value("40"), r.t0 + 2s);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].payload_text() == "40");
}

TEST_CASE("a GET without Observe carrying an observation's token ends nothing") {
  // Real clients reuse one token (often the empty one) for every request: a timestamp read
  // or a plain read of the same dataport must not cancel the observation.
  for (bool same_resource : {false, true}) {
    rig r;
    auto resource = register_observer(r, {7});
    r.sent();
    r.ep.take_observe_events();
    auto plain = same_resource ? observe_get(200, {7})
                               : request(coap::type::con, coap::codes::get, 200, {7});  // GET /ts
    plain.remove_options(coap::opt::observe);
    r.receive(plain, r.t0 + 1s);
    auto fw = r.ep.take_forwards();
    REQUIRE(fw.size() == 1);
    r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), r.t0 + 1s);
    auto answer = r.sent();
    REQUIRE(answer.size() == 1);
    CHECK_FALSE(answer[0].has(coap::opt::observe));
    CHECK(r.ep.observers() == 1);
    CHECK(r.ep.take_observe_events().empty());
    r.ep.notify(resource, value("still here"), r.t0 + 2s);
    auto out = r.sent();
    REQUIRE(out.size() == 1);
    CHECK(out[0].token == coap::bytes{7});
    CHECK(out[0].payload_text() == "still here");
  }
}

TEST_CASE("a GET with Observe 0 on a resource that is not observable is a plain GET") {
  SECTION("a route the classifier declines") {
    rig r;
    auto req = request(coap::type::con, coap::codes::get, 1, {7});  // GET /ts
    req.add_option(coap::opt::observe, coap::bytes{});
    r.receive(req, r.t0);
    auto fw = r.ep.take_forwards();
    REQUIRE(fw.size() == 1);
    r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), r.t0);
    auto out = r.sent();
    REQUIRE(out.size() == 1);
    CHECK(out[0].code == coap::codes::content);
    CHECK_FALSE(out[0].has(coap::opt::observe));
    CHECK_FALSE(out[0].has(coap::opt::max_age));
  }
  SECTION("no classifier: nothing is observable") {
    rig r({}, {});
    r.receive(observe_get(1, {7}), r.t0);
    auto fw = r.ep.take_forwards();
    REQUIRE(fw.size() == 1);
    r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), r.t0);
    auto out = r.sent();
    REQUIRE(out.size() == 1);
    CHECK_FALSE(out[0].has(coap::opt::observe));
  }
}

namespace {

// A registration answered after separate_response_after: an empty ACK, then the 2.05 with
// Observe as a CON of its own.
coap::message separate_registration(rig& r, coap::bytes token) {
  r.receive(observe_get(100, token), r.t0);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  auto acks = r.run_until(r.t0 + 1500ms);
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].second.type == coap::type::ack);
  CHECK(acks[0].second.code == coap::codes::empty);
  auto resp = coap::make_response(fw[0].request, coap::codes::content);
  resp.set_payload("v0");
  r.ep.on_response(fw[0].id, resp, r.t0 + 2s);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == coap::type::con);
  CHECK(out[0].uint_option(coap::opt::observe) == core::observe_clock(r.t0 + 2s, {}));
  CHECK(r.ep.observers() == 1);
  return out[0];
}

}  // namespace

TEST_CASE("an RST of a registration's separate response ends the relation") {
  rig r;
  auto response = separate_registration(r, {5});
  auto events = r.ep.take_observe_events();
  REQUIRE(events.size() == 1);
  coap::message rst;
  rst.type = coap::type::rst;
  rst.mid = response.mid;
  r.receive(rst, r.t0 + 3s);
  CHECK(r.ep.observers() == 0);
  events = r.ep.take_observe_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].what == core::observe_event::kind::stopped);
  CHECK(events[0].resource == *observable(observe_get(100, {5})));
  r.ep.notify(events[0].resource, value("a"), r.t0 + 4s);
  CHECK(r.sent().empty());
}

TEST_CASE("an ACK of a registration's separate response keeps the relation") {
  rig r;
  auto response = separate_registration(r, {5});
  r.ep.take_observe_events();
  ack(r, response, r.t0 + 3s);
  CHECK(r.ep.observers() == 1);
  CHECK(r.ep.take_observe_events().empty());
  r.ep.notify(*observable(observe_get(100, {5})), value("a"), r.t0 + 4s);
  CHECK(r.sent().size() == 1);
}

TEST_CASE("a registration whose separate response is never acknowledged ends (RFC 7641 §4.5)") {
  rig r;
  separate_registration(r, {5});
  r.ep.take_observe_events();
  auto resends = r.run_until(r.t0 + 100s);
  CHECK(resends.size() == 4);  // MAX_RETRANSMIT
  CHECK(r.ep.observers() == 0);
  auto events = r.ep.take_observe_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].what == core::observe_event::kind::stopped);
}

TEST_CASE("re-registration with the same token keeps one relation and a rising sequence") {
  rig r;
  register_observer(r, {9});
  auto first = r.sent().at(0);
  register_observer(r, {9}, client, 300);
  auto second = r.sent().at(0);
  CHECK(r.ep.observers() == 1);
  CHECK(*second.uint_option(coap::opt::observe) > *first.uint_option(coap::opt::observe));
  CHECK(r.ep.take_observe_events().size() == 1);
}

TEST_CASE("Max-Age passing without a change sends the current value again") {
  rig r;
  auto resource = register_observer(r, {1});
  r.sent();
  auto timed = r.run_until(r.t0 + 119s);
  CHECK(timed.empty());
  timed = r.run_until(r.t0 + 120s);
  REQUIRE(timed.size() == 1);
  CHECK(timed[0].second.payload_text() == "v0");
  CHECK(timed[0].second.type == coap::type::con);
  ack(r, timed[0].second, r.t0 + 121s);
  timed = r.run_until(r.t0 + 240s);
  REQUIRE(timed.size() == 1);
  CHECK(timed[0].first == r.t0 + 240s);
}

TEST_CASE("limits refuse the relation, not the answer") {
  core::endpoint_config cfg;
  cfg.observe.max_observers_per_client = 1;
  rig r(cfg);
  register_observer(r, {1});
  r.sent();
  register_observer(r, {2}, client, 101);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].code == coap::codes::content);
  CHECK_FALSE(out[0].has(coap::opt::observe));  // RFC 7641 §4.1: a plain 2.05
  CHECK(r.ep.observers() == 1);
}

TEST_CASE("a final error goes to every observer without Observe, then they are gone") {
  rig r;
  auto resource = register_observer(r, {1});
  register_observer(r, {2}, other_client, 101);
  r.sent();
  r.ep.notify_final(resource, coap::make_error({}, coap::codes::unauthorized, "CIK revoked"),
                    r.t0 + 5s);
  auto out = r.sent();
  REQUIRE(out.size() == 2);
  for (auto& n : out) {
    CHECK(n.code == coap::codes::unauthorized);
    CHECK_FALSE(n.has(coap::opt::observe));
  }
  CHECK(r.ep.observers() == 0);
}

TEST_CASE("draining sends observers nothing further and stops every watch") {
  rig r;
  auto resource = register_observer(r, {1});
  r.sent();
  r.ep.take_observe_events();
  r.ep.notify(resource, value("a"), r.t0 + 1s);
  r.sent();
  r.ep.set_draining(true);
  auto events = r.ep.take_observe_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].what == core::observe_event::kind::stopped);
  CHECK(r.run_until(r.t0 + 1h).empty());  // no retransmission, no refresh
  CHECK(r.ep.idle());
}

TEST_CASE("sequence freshness with 24-bit wrap-around (RFC 7641 §3.4)") {
  core::time_point t{};
  CHECK(core::is_fresher(1, t, 2, t));
  CHECK_FALSE(core::is_fresher(2, t, 1, t));
  CHECK(core::is_fresher(0xFFFFFF, t, 0, t));  // wrapped
  CHECK_FALSE(core::is_fresher(0, t, 0xFFFFFF, t));
  CHECK(core::is_fresher(5, t, 1, t + 129s));  // the 128-second rule
  CHECK_FALSE(core::is_fresher(5, t, 1, t + 127s));
}

TEST_CASE("sequence numbers wrap at 24 bits and every notification stays fresher") {
  rig r;
  // The wall clock 3 ticks before the 24-bit counter wraps, at t0.
  const core::duration to_wrap =
      std::chrono::duration_cast<core::duration>(
          std::chrono::duration<std::int64_t, std::ratio<1, 1024>>((std::int64_t{1} << 24) - 3)) -
      r.t0.time_since_epoch();
  r.ep.set_wall_clock_offset(to_wrap + 500us);  // half a tick in: clear of rounding
  auto resource = register_observer(r, {1});
  CHECK(r.sent().at(0).uint_option(coap::opt::observe) == 0xFFFFFDu);
  std::uint32_t prev = 0xFFFFFD;
  auto t = r.t0;
  std::vector<std::uint32_t> seen;
  for (int i = 0; i < 5; ++i) {
    t += 1ms;  // one tick is 1/1024 s: every notification within the same or the next tick
    r.ep.notify(resource, value(std::to_string(i)), t);
    auto n = r.sent().at(0);
    auto seq = *n.uint_option(coap::opt::observe);
    CHECK(core::is_fresher(prev, t - 1ms, seq, t));
    seen.push_back(seq);
    prev = seq;
    ack(r, n, t);
  }
  CHECK(seen == std::vector<std::uint32_t>{0xFFFFFE, 0xFFFFFF, 0, 1, 2});
}
