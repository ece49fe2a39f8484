#include <catch2/catch.hpp>

#include "http/http_date.hpp"
#include "sim/data_api.hpp"
#include "sim/router.hpp"
#include "sim_fixture.hpp"

using namespace sim_test;
using gw::sim::handle;

namespace {

constexpr const char* stack = "/onep:v1/stack/alias";

gw::sim::header_list poll_headers(std::string timeout_ms, std::string since = {}) {
  gw::sim::header_list h{{"Request-Timeout", std::move(timeout_ms)}};
  if (!since.empty()) h.emplace_back("If-Modified-Since", std::move(since));
  return with_cik(demo_cik, std::move(h));
}

}  // namespace

TEST_CASE("read answers only aliases that exist and have data", "[data]") {
  auto st = example_state();
  auto r = now_answer(
      handle(get("/onep:v1/stack/alias?temp&humidity&empty&nope", with_cik()), st, at(t0 + 1)));
  CHECK(r.status == 200);
  CHECK(r.body == "temp=21.5&humidity=40");
  CHECK(r.header("Content-Type") == "application/x-www-form-urlencoded; charset=utf-8");

  CHECK(now_answer(handle(get("/onep:v1/stack/alias?empty&nope", with_cik()), st, at(t0))).status ==
        204);
  CHECK(now_answer(handle(get(stack, with_cik()), st, at(t0))).status == 204);
}

TEST_CASE("An unknown or missing CIK gets 401 on every data procedure", "[data]") {
  auto st = example_state();
  const auto bad = with_cik("0123456789012345678901234567890123456789");
  CHECK(now_answer(handle(get("/onep:v1/stack/alias?temp"), st, at(t0))).status == 401);
  CHECK(now_answer(handle(get("/onep:v1/stack/alias?temp", bad), st, at(t0))).status == 401);
  CHECK(now_answer(handle(post(stack, "temp=1", bad), st, at(t0))).status == 401);
  CHECK(now_answer(handle(post("/onep:v1/stack/alias?temp", "temp=1", bad), st, at(t0))).status ==
        401);
  // A device awaiting activation has no CIK: an empty header matches nothing.
  CHECK(now_answer(handle(get("/onep:v1/stack/alias?temp", with_cik("")), st, at(t0))).status ==
        401);
}

TEST_CASE("The CIK compares as lower-case hex", "[data]") {
  auto st = example_state();
  const auto upper = with_cik("A32C85BA9DDA45823BE416246CF8B433BAA068D7");
  CHECK(now_answer(handle(get("/onep:v1/stack/alias?temp", upper), st, at(t0))).status == 200);
}

TEST_CASE("write: one timestamp for all aliases, 204 even for a missing alias", "[data]") {
  auto st = example_state();
  auto r = now_answer(handle(post(stack, "temp=22.5&humidity=hello+world&nope=1", with_cik()), st,
                             at(t0 + 7, 900)));
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  auto* d = st.find_by_cik(demo_cik);
  const auto* temp = gw::sim::state::find_alias(*d, "temp")->latest();
  const auto* hum = gw::sim::state::find_alias(*d, "humidity")->latest();
  CHECK(temp->value == "22.5");
  CHECK(hum->value == "hello world");
  CHECK(temp->ts == t0 + 7);
  CHECK(hum->ts == t0 + 7);
  CHECK(gw::sim::state::find_alias(*d, "nope") == nullptr);

  // Only a missing alias: nothing is written, still 204.
  const auto before = st.last_seq();
  CHECK(now_answer(handle(post(stack, "nope=1", with_cik()), st, at(t0 + 8))).status == 204);
  CHECK(st.last_seq() == before);
  CHECK(now_answer(handle(post(stack, "temp=%zz", with_cik()), st, at(t0 + 8))).status == 400);
  CHECK(st.last_seq() == before);
}

TEST_CASE("hybrid writes before it reads", "[data]") {
  auto st = example_state();
  auto r = now_answer(handle(post("/onep:v1/stack/alias?empty&temp", "empty=%E2%82%AC", with_cik()),
                             st, at(t0 + 1)));
  CHECK(r.status == 200);
  CHECK(r.body == "empty=%E2%82%AC&temp=21.5");
  auto none =
      now_answer(handle(post("/onep:v1/stack/alias?nope", "temp=1", with_cik()), st, at(t0)));
  CHECK(none.status == 204);
}

TEST_CASE("Other methods get 405", "[data]") {
  auto st = example_state();
  auto req = get("/onep:v1/stack/alias?temp", with_cik());
  req.method = "PUT";
  const auto r = now_answer(handle(req, st, at(t0)));
  CHECK(r.status == 405);
  CHECK(r.header("Allow") == "GET, POST");
}

TEST_CASE("long-poll: an existing newer point answers at once", "[data][longpoll]") {
  auto st = example_state();
  // temp was stamped t0; If-Modified-Since one second earlier, as Unix seconds and as HTTP-date.
  for (const auto& since : {std::to_string(t0 - 1), gw::http::format_http_date(t0 - 1)}) {
    auto r = now_answer(
        handle(get("/onep:v1/stack/alias?temp", poll_headers("30000", since)), st, at(t0 + 5)));
    CHECK(r.status == 200);
    CHECK(r.body == "temp=21.5");
    CHECK(r.header("Last-Modified") == gw::http::format_http_date(t0));
  }
}

TEST_CASE("long-poll: woken by a later write, Last-Modified from the point", "[data][longpoll]") {
  auto st = example_state();
  auto poll =
      deferred_of(handle(get("/onep:v1/stack/alias?temp", poll_headers("30000")), st, at(t0 + 10)));
  CHECK(poll->deadline() == at(t0 + 40));
  CHECK_FALSE(poll->poll(st, at(t0 + 11)));
  // A write in the same second the poll started (default If-Modified-Since = now) still counts.
  now_answer(handle(post(stack, "temp=30", with_cik()), st, at(t0 + 10, 500)));
  const auto r = poll->poll(st, at(t0 + 10, 501));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "temp=30");
  CHECK(r->header("Last-Modified") == gw::http::format_http_date(t0 + 10));
}

TEST_CASE("long-poll: 304 when the timeout passes first", "[data][longpoll]") {
  auto st = example_state();
  auto poll =
      deferred_of(handle(get("/onep:v1/stack/alias?temp", poll_headers("300")), st, at(t0 + 10)));
  CHECK(poll->deadline() == at(t0 + 10, 300));
  // A write elsewhere, or an old point recorded meanwhile, does not answer it.
  now_answer(handle(post(stack, "humidity=1", with_cik()), st, at(t0 + 10, 100)));
  auto& temp = *gw::sim::state::find_alias(*st.find_by_cik(demo_cik), "temp");
  st.append(temp, t0 - 100, "history");
  CHECK_FALSE(poll->poll(st, at(t0 + 10, 299)));
  const auto r = poll->poll(st, at(t0 + 10, 300));
  REQUIRE(r);
  CHECK(r->status == 304);
  CHECK(r->body.empty());
}

TEST_CASE("long-poll: an alias without data waits; Request-Timeout 0 answers at once",
          "[data][longpoll]") {
  auto st = example_state();
  auto poll =
      deferred_of(handle(get("/onep:v1/stack/alias?empty", poll_headers("1000", "0")), st, at(t0)));
  now_answer(handle(post(stack, "empty=first", with_cik()), st, at(t0)));
  const auto r = poll->poll(st, at(t0));
  REQUIRE(r);
  CHECK(r->body == "empty=first");

  CHECK(now_answer(handle(get("/onep:v1/stack/alias?temp", poll_headers("0")), st, at(t0 + 5)))
            .status == 304);
}

TEST_CASE("long-poll: Request-Timeout is capped at 300000 ms", "[data][longpoll]") {
  auto st = example_state();
  auto poll = deferred_of(
      handle(get("/onep:v1/stack/alias?temp", poll_headers("999999999")), st, at(t0 + 10)));
  CHECK(poll->deadline() == at(t0 + 10 + 300));
}

TEST_CASE("long-poll: malformed requests get 400; a bad If-Modified-Since means now",
          "[data][longpoll]") {
  auto st = example_state();
  CHECK(now_answer(handle(get("/onep:v1/stack/alias?temp", poll_headers("soon")), st, at(t0)))
            .status == 400);
  CHECK(
      now_answer(handle(get("/onep:v1/stack/alias?temp&humidity", poll_headers("10")), st, at(t0)))
          .status == 400);
  CHECK(now_answer(handle(get(stack, poll_headers("10")), st, at(t0))).status == 400);
  // "yesterday" is ignored, so the existing point (t0) is not newer than now (t0 + 5).
  deferred_of(
      handle(get("/onep:v1/stack/alias?temp", poll_headers("10", "yesterday")), st, at(t0 + 5)));
}

TEST_CASE("timestamp answers decimal Unix seconds", "[data]") {
  auto st = example_state();
  const auto r = now_answer(handle(get("/timestamp"), st, at(t0, 999)));
  CHECK(r.status == 200);
  CHECK(r.body == std::to_string(t0));
  CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
}

TEST_CASE("classify names every endpoint", "[data]") {
  using gw::sim::classify;
  using gw::sim::endpoint;
  CHECK(classify(get("/onep:v1/stack/alias?a")) == endpoint::read);
  CHECK(classify(get("/onep:v1/stack/alias?a", {{"Request-Timeout", "1"}})) == endpoint::longpoll);
  CHECK(classify(post(stack, "a=1")) == endpoint::write);
  CHECK(classify(post("/onep:v1/stack/alias?a", "a=1")) == endpoint::hybrid);
  CHECK(classify(post("/provision/activate", "")) == endpoint::activate);
  CHECK(classify(get("/provision/download?vendor=v&model=m")) == endpoint::list);
  CHECK(classify(get("/provision/download?vendor=v&model=m&id=f&info=true")) == endpoint::info);
  CHECK(classify(get("/provision/download?vendor=v&model=m&id=f")) == endpoint::download);
  CHECK(classify(get("/timestamp")) == endpoint::timestamp);
  CHECK(classify(post("/onep:v1/rpc/process", "{}")) == endpoint::rpc);
  CHECK(classify(get("/elsewhere")) == endpoint::other);
}
