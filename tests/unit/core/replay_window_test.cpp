// Exactly-once writes and fresh reads for clients that reuse one Message ID (CoAPExample: every
// request MID 0x37, empty token), in virtual time.
#include <catch2/catch.hpp>

#include "tests/unit/core/endpoint_rig.hpp"

using namespace gw;
using namespace std::chrono_literals;
using namespace gw::test;

namespace {

coap::message fixed_mid(coap::code code, std::string_view payload = {}) {
  auto m = request(coap::type::con, code, 0x37, {});
  if (!payload.empty()) m.set_payload(payload);
  return m;
}

// Answers every forwarded request at `now` with `code` and `payload`; returns how many.
std::size_t answer_all(rig& r, time_point now, coap::code code, std::string_view payload = {},
                       core::endpoint::answered how = core::endpoint::answered::later) {
  auto fw = r.ep.take_forwards();
  for (auto& f : fw) {
    auto resp = coap::make_response(f.request, code);
    if (!payload.empty()) resp.set_payload(payload);
    r.ep.on_response(f.id, resp, now, how);
  }
  return fw.size();
}

}  // namespace

TEST_CASE("a fixed-MID poller's identical GET runs again after the replay window") {
  rig r;
  const auto get = fixed_mid(coap::codes::get);
  r.receive(get, r.t0);
  REQUIRE(answer_all(r, r.t0 + 50ms, coap::codes::content, "1") == 1);
  REQUIRE(r.sent().at(0).payload_text() == "1");

  // A write changes the value in between (same MID, different request).
  r.receive(fixed_mid(coap::codes::post, "2"), r.t0 + 500ms);
  REQUIRE(answer_all(r, r.t0 + 550ms, coap::codes::changed) == 1);
  r.sent();

  // The write took the MID over, so the GET is a new request again.
  r.receive(get, r.t0 + 1s);
  REQUIRE(answer_all(r, r.t0 + 1s, coap::codes::content, "2") == 1);
  CHECK(r.sent().at(0).payload_text() == "2");

  // A second later, no write in between: polled again, it must run again and see fresh data.
  r.receive(get, r.t0 + 2s + 100ms);
  REQUIRE(answer_all(r, r.t0 + 2s + 100ms, coap::codes::content, "3") == 1);
  CHECK(r.sent().at(0).payload_text() == "3");
}

TEST_CASE("the replay window counts from the first answer and never slides with copies") {
  rig r;  // replay_window 1 s
  const auto get = fixed_mid(coap::codes::get);
  r.receive(get, r.t0);
  REQUIRE(answer_all(r, r.t0 + 200ms, coap::codes::content, "old") == 1);
  const auto first = r.sent();
  REQUIRE(first.size() == 1);

  // Copies within the window get the cached answer, not a second forward.
  for (auto at : {r.t0 + 400ms, r.t0 + 800ms, r.t0 + 1100ms}) {
    r.receive(get, at);
    CHECK(r.ep.take_forwards().empty());
    auto again = r.sent();
    REQUIRE(again.size() == 1);
    CHECK(again[0] == first[0]);
  }
  // 1 s after the answer (at +200 ms), whatever copies came meanwhile: executed again.
  r.receive(get, r.t0 + 1200ms);
  CHECK(answer_all(r, r.t0 + 1200ms, coap::codes::content, "new") == 1);
  CHECK(r.sent().at(0).payload_text() == "new");
}

TEST_CASE("a copy of a GET still running joins it, however late") {
  rig r;
  const auto get = fixed_mid(coap::codes::get);
  r.receive(get, r.t0);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  r.run_until(r.t0 + 1s);  // the empty ACK
  r.sent();
  for (auto at : {r.t0 + 1500ms, r.t0 + 3s, r.t0 + 9s}) {
    r.receive(get, at);
    CHECK(r.ep.take_forwards().empty());
    auto again = r.sent();
    REQUIRE(again.size() == 1);
    CHECK(again[0].code == coap::codes::empty);  // the empty ACK again
  }
  r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), r.t0 + 9s);
  CHECK(r.sent().size() == 1);  // the separate response, once
}

TEST_CASE("an identical write from a fixed-MID client is a duplicate for the dedup window") {
  core::endpoint_config cfg;
  cfg.dedup_window = 60s;
  rig r(cfg);
  const auto write = fixed_mid(coap::codes::post, "1");
  r.receive(write, r.t0);
  REQUIRE(answer_all(r, r.t0, coap::codes::changed) == 1);
  const auto first = r.sent();
  // Long past the replay window of reads: still the cached answer, never a second write.
  r.receive(write, r.t0 + 45s);
  CHECK(r.ep.take_forwards().empty());
  CHECK(r.sent() == first);
  // Past the configured window, the same bytes are a new write (the documented trade-off).
  r.receive(write, r.t0 + 60s);
  CHECK(r.ep.take_forwards().size() == 1);
}

TEST_CASE("same MID: write A, write B, write A again runs A again") {
  rig r;
  const auto a = fixed_mid(coap::codes::post, "A");
  const auto b = fixed_mid(coap::codes::post, "B");
  r.receive(a, r.t0);
  REQUIRE(answer_all(r, r.t0, coap::codes::changed) == 1);
  r.receive(b, r.t0 + 1s);
  REQUIRE(answer_all(r, r.t0 + 1s, coap::codes::changed) == 1);
  r.receive(a, r.t0 + 2s);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  CHECK(fw[0].request.payload_text() == "A");
  // A retransmission of that second A is its duplicate.
  r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::changed), r.t0 + 2s);
  r.sent();
  r.receive(a, r.t0 + 4s);
  CHECK(r.ep.take_forwards().empty());
  CHECK(r.sent().size() == 1);
}

TEST_CASE("thousands of reads do not make the gateway forget a write") {
  core::endpoint_config cfg;
  cfg.dedup_cache_bytes = 256 * 1024;
  rig r(cfg);
  auto write = request(coap::type::con, coap::codes::post, 0x1000);
  write.set_payload("42");
  r.receive(write, r.t0);
  REQUIRE(answer_all(r, r.t0, coap::codes::changed) == 1);
  const auto first = r.sent();

  // 8,000 reads within 20 s from many MIDs: far more than the budget holds.
  auto now = r.t0;
  for (int i = 0; i < 8000; ++i) {
    now = r.t0 + std::chrono::milliseconds(i * 20 / 8);
    auto get = request(coap::type::con, coap::codes::get, static_cast<std::uint16_t>(0x2000 + i));
    get.set_payload(std::string(64, 'x'));
    r.receive(get, now, i % 2 == 0 ? client : other_client);
    answer_all(r, now, coap::codes::content, std::string(200, 'v'));
    r.ep.on_timer(now);
  }
  r.sent();
  // The client retransmits the write at 30 s (within MAX_TRANSMIT_SPAN): the cached answer.
  r.receive(write, r.t0 + 30s);
  CHECK(r.ep.take_forwards().empty());
  auto again = r.sent();
  REQUIRE(again.size() == 1);
  CHECK(again[0] == first[0]);
  CHECK(r.ep.dedup_evictions() == 0);
  CHECK(r.ep.stats().dedup_effective_window == core::duration(247s));
}

TEST_CASE("a store full of writes refuses new writes with 5.03 and Max-Age, keeps the old") {
  core::endpoint_config cfg;
  cfg.dedup_cache_bytes = 64 * 1024;
  rig r(cfg);
  std::uint16_t mid = 1;
  core::time_point now = r.t0;
  std::vector<coap::message> answered;
  for (; mid < 20000; ++mid) {  // far more than 48 KiB of writes
    auto w = request(coap::type::con, coap::codes::put, mid);
    r.receive(w, now);
    if (answer_all(r, now, coap::codes::changed) == 0) break;
    answered.push_back(w);
    r.sent();
  }
  REQUIRE(answered.size() > 10);
  REQUIRE(mid < 20000);
  auto refused = r.sent();
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].code == coap::codes::service_unavailable);
  CHECK(refused[0].uint_option(coap::opt::max_age) == cfg.overload_max_age_s);
  // Reads still go through, and every old write is still known.
  r.receive(request(coap::type::con, coap::codes::get, 0xF000), now);
  CHECK(r.ep.take_forwards().size() == 1);
  r.receive(answered.front(), now + 40s);
  CHECK(r.ep.take_forwards().empty());
  CHECK(r.ep.dedup_evictions() == 0);
  // Once the oldest expire, writes are taken again.
  r.run_until(r.t0 + 248s);
  r.receive(request(coap::type::con, coap::codes::put, 0xE000), r.t0 + 248s);
  CHECK(r.ep.take_forwards().size() == 1);
}

TEST_CASE("the effective dedup window reports the age of the youngest write evicted") {
  core::endpoint_config cfg;
  cfg.dedup_cache_bytes = 64 * 1024;
  rig r(cfg);
  CHECK(r.ep.stats().dedup_effective_window == core::duration(247s));
  for (std::uint16_t mid = 1; mid <= 100; ++mid) {
    r.receive(request(coap::type::con, coap::codes::put, mid), r.t0 + std::chrono::seconds(mid));
    answer_all(r, r.t0 + std::chrono::seconds(mid), coap::codes::changed);
  }
  // A reload to a far smaller budget evicts the oldest writes.
  cfg.dedup_cache_bytes = 8 * 1024;
  r.ep.set_config(cfg);
  r.ep.on_timer(r.t0 + 110s);
  REQUIRE(r.ep.dedup_evictions() > 0);
  auto window = r.ep.stats().dedup_effective_window;
  REQUIRE(window.has_value());
  CHECK(*window < core::duration(247s));
  CHECK(*window > core::duration(10s));
  // Summed over workers, the weakest one counts.
  core::endpoint_stats sum;
  sum += core::endpoint_stats{};
  sum += r.ep.stats();
  core::endpoint_stats healthy;
  healthy.dedup_effective_window = core::duration(247s);
  sum += healthy;
  CHECK(sum.dedup_effective_window == window);
  // A window later, with no eviction since, it is the configured window again.
  r.ep.on_timer(r.t0 + 110s + 247s);
  CHECK(r.ep.stats().dedup_effective_window == core::duration(247s));
}

TEST_CASE("a safe request answered in place is not kept for replay; an unsafe one still is") {
  // The discovery document or a local error costs nothing to give again: a copy is answered
  // afresh rather than from the cache, which keeps its room (and its lookups) for answers that
  // cost an upstream call. A write's answer is kept whatever made it: never executed twice.
  rig r;
  const auto in_place = core::endpoint::answered::in_place;
  const auto get = fixed_mid(coap::codes::get);
  r.receive(get, r.t0);
  REQUIRE(answer_all(r, r.t0, coap::codes::content, "doc", in_place) == 1);
  REQUIRE(r.sent().size() == 1);
  r.receive(get, r.t0 + 10ms);  // a copy within the replay window: handled again
  REQUIRE(answer_all(r, r.t0 + 10ms, coap::codes::content, "doc", in_place) == 1);
  CHECK(r.sent().at(0).payload_text() == "doc");
  CHECK(r.ep.stats().duplicates == 0);

  const auto post = fixed_mid(coap::codes::post, "7");
  r.receive(post, r.t0 + 20ms);
  REQUIRE(answer_all(r, r.t0 + 20ms, coap::codes::bad_request, {}, in_place) == 1);
  r.sent();
  r.receive(post, r.t0 + 30ms);
  CHECK(r.ep.take_forwards().empty());  // answered from the cache
  CHECK(r.sent().at(0).code == coap::codes::bad_request);
  CHECK(r.ep.stats().duplicates == 1);
}

TEST_CASE("a safe request answered locally is never remembered, even while it runs") {
  // core::local_answer_fn: here every GET is local. A copy in the same receive batch, before
  // the first is answered, is handled again rather than joined; a GET not local is joined.
  const core::local_answer_fn gets_are_local = [](const coap::message& m) {
    return m.code == coap::codes::get;
  };
  rig r({}, observable, gets_are_local);
  const auto get = fixed_mid(coap::codes::get);
  r.receive(get, r.t0);
  r.receive(get, r.t0);  // the same batch: nothing answered yet
  CHECK(r.ep.stats().dedup_safe_running == 0);
  CHECK(answer_all(r, r.t0, coap::codes::content, "doc", core::endpoint::answered::in_place) == 2);
  CHECK(r.ep.stats().duplicates == 0);

  rig plain;  // no classifier: the copy joins the first
  plain.receive(get, plain.t0);
  plain.receive(get, plain.t0);
  CHECK(plain.ep.stats().dedup_safe_running == 1);
  CHECK(answer_all(plain, plain.t0, coap::codes::content, "doc") == 1);
  CHECK(plain.ep.stats().duplicates == 1);

  // Unsafe requests are remembered whatever the classifier says, and a local request takes
  // its MID over from the write before it, as any new request does: a copy of the write that
  // comes after it runs again (the fixed-MID reading of DESIGN.md).
  const core::local_answer_fn all_local = [](const coap::message&) { return true; };
  rig w({}, observable, all_local);
  const auto post = fixed_mid(coap::codes::post, "7");
  w.receive(post, w.t0);
  REQUIRE(answer_all(w, w.t0, coap::codes::changed) == 1);
  w.receive(post, w.t0 + 10ms);
  CHECK(w.ep.take_forwards().empty());  // a duplicate
  w.receive(get, w.t0 + 20ms);
  REQUIRE(answer_all(w, w.t0 + 20ms, coap::codes::content, "doc") == 1);
  w.receive(post, w.t0 + 30ms);
  CHECK(w.ep.take_forwards().size() == 1);
}
