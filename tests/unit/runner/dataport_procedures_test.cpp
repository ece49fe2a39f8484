// Write and Read through the runner: alias checks, the alias cache, CIK forms, upstream faults.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "gateway/coap/block.hpp"
#include "tests/unit/runner/runner_rig.hpp"
#include "translate/content_format.hpp"

namespace gw::runner::test {
namespace {

using tt::from_hex;
using namespace translate;

// --- Write ---------------------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "Write of an unknown alias: lookup, then 4.03 without writing",
                 "[runner]") {
  auto d = make();
  client.answer(200, lookup_invalid);
  auto msg = run(d, post_value("nope", "1"));
  tt::check_error(msg, forbidden);
  REQUIRE(client.sent.size() == 1);
  CHECK(is_lookup(0, "nope"));

  // The negative answer is cached for negative_ttl: no second lookup.
  msg = run(d, post_value("nope", "2"));
  tt::check_error(msg, forbidden);
  CHECK(client.sent.size() == 1);

  // After it, the alias is checked again.
  now += options.alias_cache.negative_ttl;
  client.answer(200, lookup_invalid);
  msg = run(d, post_value("nope", "3"));
  tt::check_error(msg, forbidden);
  REQUIRE(client.sent.size() == 2);
  CHECK(is_lookup(1, "nope"));
}

TEST_CASE_METHOD(fixture, "Write of a known alias: lookup, write, 2.04; then the cache",
                 "[runner]") {
  auto d = make();
  client.answer(200, lookup_ok);
  client.answer(204);
  auto msg = run(d, post_value("temp", "26.1"));
  CHECK(msg.code == changed);
  CHECK(msg.token == tt::token);
  CHECK(msg.payload.empty());
  REQUIRE(client.sent.size() == 2);
  CHECK(is_lookup(0, "temp"));
  CHECK(is_write(1, "temp=26.1"));
  CHECK(tt::header(client.sent[1], "Content-Type") == form_type);

  client.answer(204);
  msg = run(d, post_value("temp", "27"));
  CHECK(msg.code == changed);
  REQUIRE(client.sent.size() == 3);
  CHECK(is_write(2, "temp=27"));

  // The positive answer expires after ttl.
  now += options.alias_cache.ttl;
  client.answer(200, lookup_ok);
  client.answer(204);
  msg = run(d, post_value("temp", "28"));
  CHECK(msg.code == changed);
  REQUIRE(client.sent.size() == 5);
  CHECK(is_lookup(3, "temp"));
  CHECK(is_write(4, "temp=28"));
}

TEST_CASE_METHOD(fixture, "Write with the captured binary-CIK datagram", "[runner]") {
  auto d = make();
  client.answer(200, lookup_ok);
  client.answer(204);
  auto msg = run(d, tt::captured_request("write_binary_cik"));
  CHECK(msg.code == changed);
  REQUIRE(client.sent.size() == 2);
  CHECK(is_lookup(0, "temp"));
  CHECK(is_write(1, "temp=37"));
}

TEST_CASE_METHOD(fixture, "Write answered 401: 4.01 and the CIK's cache entries are dropped",
                 "[runner]") {
  auto d = make();
  client.answer(200, lookup_ok);
  client.answer(204);
  CHECK(run(d, post_value("temp", "1")).code == changed);
  client.answer(401);
  tt::check_error(run(d, post_value("temp", "2")), unauthorized);
  REQUIRE(client.sent.size() == 3);
  CHECK(is_write(2, "temp=2"));
  // Checked again after the 401 (once the refused CIK is no longer remembered as such).
  now += options.rejected_cik_ttl;
  client.answer(200, lookup_ok);
  client.answer(204);
  CHECK(run(d, post_value("temp", "3")).code == changed);
  REQUIRE(client.sent.size() == 5);
  CHECK(is_lookup(3, "temp"));
}

TEST_CASE_METHOD(fixture, "Write: lookup failures", "[runner]") {
  auto d = make();
  SECTION("whole-request 401 from the lookup") {
    client.answer(200, R"({"error": {"code": 401, "message": "Invalid", "context": "auth"}})");
    tt::check_error(run(d, post_value("temp", "1")), unauthorized);
  }
  SECTION("HTTP 401 from the lookup") {
    client.answer(401);
    tt::check_error(run(d, post_value("temp", "1")), unauthorized);
  }
  SECTION("lookup timed out") {
    client.fail(upstream::error::timed_out);
    tt::check_error(run(d, post_value("temp", "1")), gateway_timeout);
  }
  SECTION("lookup answered garbage") {
    client.answer(200, "<html>");
    tt::check_error(run(d, post_value("temp", "1")), bad_gateway);
  }
  SECTION("lookup answered 503 with Retry-After") {
    client.answer(503, "", {{"Retry-After", "20"}});
    auto msg = run(d, post_value("temp", "1"));
    tt::check_error(msg, service_unavailable);
    CHECK(msg.uint_option(coap::opt::max_age) == 20u);
  }
  // Nothing was written.
  REQUIRE(client.sent.size() == 1);
  CHECK(is_lookup(0, "temp"));
}

TEST_CASE_METHOD(fixture, "Write: a bad value is refused before any upstream call", "[runner]") {
  auto d = make();
  tt::check_error(run(d, tt::with_format(post_value("temp", R"({"a": 1})"), cf::json)),
                  unsupported_content_format);
  tt::check_error(run(d, post_value("temp", "\xff")), bad_request);
  tt::check_error(
      run(d, tt::with_format(tt::with_payload(post_value("temp", ""), from_hex("a1 61 61 01")),
                             cf::cbor)),
      bad_request);
  CHECK(client.sent.empty());
}

TEST_CASE_METHOD(fixture, "Write upstream 503 with Retry-After: 5.03 with Max-Age", "[runner]") {
  auto d = make();
  client.answer(200, lookup_ok);
  client.answer(503, "", {{"Retry-After", "30"}});
  auto msg = run(d, post_value("temp", "1"));
  tt::check_error(msg, service_unavailable);
  CHECK(msg.uint_option(coap::opt::max_age) == 30u);
}

// --- Read ----------------------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "Read 200: the value", "[runner]") {
  auto d = make();
  client.answer(200, "temp=26.1", {{"Content-Type", form_type}});
  auto msg = run(d, get_value("temp"));
  CHECK(msg.code == content);
  CHECK(msg.token == tt::token);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(tt::text(msg) == "26.1");
  REQUIRE(client.sent.size() == 1);
  CHECK(is_read(0, "temp"));
  CHECK(tt::header(client.sent[0], "Accept") == form_type);

  // A value proves the alias exists: a later Write needs no lookup.
  client.answer(204);
  CHECK(run(d, post_value("temp", "1")).code == changed);
  REQUIRE(client.sent.size() == 2);
  CHECK(is_write(1, "temp=1"));
}

TEST_CASE_METHOD(fixture, "Read with the captured binary-CIK datagram", "[runner]") {
  auto d = make();
  client.answer(200, "temp=37");
  auto msg = run(d, tt::captured_request("read_binary_cik"));
  CHECK(msg.code == content);
  CHECK(tt::text(msg) == "37");
  REQUIRE(client.sent.size() == 1);
  CHECK(is_read(0, "temp"));
}

TEST_CASE_METHOD(fixture, "Read 204 and lookup ok: 2.05 empty", "[runner]") {
  auto d = make();
  client.answer(204);
  client.answer(200, lookup_ok);
  auto msg = run(d, get_value("empty"));
  CHECK(msg.code == content);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(msg.payload.empty());
  REQUIRE(client.sent.size() == 2);
  CHECK(is_read(0, "empty"));
  CHECK(is_lookup(1, "empty"));

  // Cached: the next 204 needs no lookup.
  client.answer(204);
  msg = run(d, get_value("empty"));
  CHECK(msg.code == content);
  CHECK(client.sent.size() == 3);
}

TEST_CASE_METHOD(fixture, "Read 204 and lookup invalid: 4.03", "[runner]") {
  auto d = make();
  client.answer(204);
  client.answer(200, lookup_invalid);
  tt::check_error(run(d, get_value("nope")), forbidden);
  REQUIRE(client.sent.size() == 2);
  CHECK(is_read(0, "nope"));
  CHECK(is_lookup(1, "nope"));
}

TEST_CASE_METHOD(fixture, "Read 200 without the alias is checked like a 204", "[runner]") {
  auto d = make();
  client.answer(200, "other=1");
  client.answer(200, lookup_invalid);
  tt::check_error(run(d, get_value("nope")), forbidden);
  CHECK(client.sent.size() == 2);
}

TEST_CASE_METHOD(fixture, "Read: upstream statuses and failures", "[runner]") {
  auto d = make();
  SECTION("401") {
    client.answer(401);
    tt::check_error(run(d, get_value("temp")), unauthorized);
  }
  SECTION("timed out: 5.04") {
    client.fail(upstream::error::timed_out);
    auto msg = run(d, get_value("temp"));
    tt::check_error(msg, gateway_timeout);
  }
  SECTION("connect failed: 5.02") {
    client.fail(upstream::error::connect_failed);
    tt::check_error(run(d, get_value("temp")), bad_gateway);
  }
  SECTION("queue full: 5.03 with Max-Age") {
    client.fail(upstream::error::queue_full);
    auto msg = run(d, get_value("temp"));
    tt::check_error(msg, service_unavailable);
    CHECK(msg.has(coap::opt::max_age));
  }
  SECTION("503 with Retry-After as seconds: 5.03 with Max-Age") {
    client.answer(503, "", {{"Retry-After", "17"}});
    auto msg = run(d, get_value("temp"));
    tt::check_error(msg, service_unavailable);
    CHECK(msg.uint_option(coap::opt::max_age) == 17u);
  }
  SECTION("503 with Retry-After as an HTTP-date") {
    client.answer(503, "", {{"Retry-After", "Wed, 10 Sep 2014 14:55:00 GMT"}});
    auto msg = run(d, get_value("temp"));
    tt::check_error(msg, service_unavailable);
    CHECK(msg.uint_option(coap::opt::max_age) == 60u);
  }
  SECTION("429") {
    client.answer(429, "", {{"Retry-After", "2"}});
    auto msg = run(d, get_value("temp"));
    tt::check_error(msg, too_many_requests);
    CHECK(msg.uint_option(coap::opt::max_age) == 2u);
  }
  SECTION("500") {
    client.answer(500);
    tt::check_error(run(d, get_value("temp")), internal_server_error);
  }
  SECTION("an unreadable form: 5.02") {
    client.answer(200, "temp=%g");
    tt::check_error(run(d, get_value("temp")), bad_gateway);
  }
  CHECK(client.sent.size() == 1);
}

TEST_CASE_METHOD(fixture, "missing or malformed CIK: 4.01 without an upstream call", "[runner]") {
  auto d = make();
  tt::check_error(run(d, get_value("temp", {})), unauthorized);
  tt::check_error(run(d, post_value("temp", "1", {})), unauthorized);
  tt::check_error(run(d, get_value("temp", {"not-a-cik"})), unauthorized);
  tt::check_error(run(d, get_value("temp", {tt::cik.substr(1)})), unauthorized);
  tt::check_error(run(d, get_value("temp", {std::string(40, 'g')})), unauthorized);
  tt::check_error(run(d, tt::make_request(post, {"1a"})), unauthorized);
  tt::check_error(run(d, tt::make_request(get, {"provision", "download", "v", "m"})), unauthorized);
  CHECK(client.sent.empty());
}

TEST_CASE_METHOD(fixture, "an upper-case CIK goes upstream in lower case", "[runner]") {
  auto d = make();
  std::string upper = tt::cik;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  client.answer(200, "temp=1");
  CHECK(run(d, get_value("temp", {upper})).code == content);
  REQUIRE(client.sent.size() == 1);
  CHECK(tt::header(client.sent[0], "X-Exosite-CIK") == tt::cik);
}
}  // namespace
}  // namespace gw::runner::test

namespace gw::runner::test {
namespace {

coap::message observe_value(std::string alias) {
  auto m = get_value(std::move(alias));
  m.add_option(coap::opt::observe, coap::bytes{});  // Observe 0 as zero bytes
  return m;
}

TEST_CASE_METHOD(fixture, "an Observe registration reads the point with its time",
                 "[runner][observe]") {
  observed_points points;
  procedure_runner d(client, options, clock, &points);
  client.answer(200, "temp=26.1", {{"Last-Modified", "Wed, 10 Sep 2014 14:54:00 GMT"}});
  auto msg = run(d, observe_value("temp"));
  CHECK(tt::text(msg) == "26.1");
  REQUIRE(client.sent.size() == 1);
  // A long-poll from the epoch: at once, the latest point and its Last-Modified.
  CHECK(client.sent[0].target == "/onep:v1/stack/alias?temp");
  CHECK(tt::header(client.sent[0], "If-Modified-Since") == "0");
  CHECK(tt::header(client.sent[0], "Request-Timeout") == "1");
  CHECK(points.find({tt::cik, "temp"}, now) == observed_point{1410360840, "26.1"});

  // An empty dataport: 304, then the alias check; nothing remembered.
  client.answer(304);
  client.answer(200, lookup_ok);
  msg = run(d, observe_value("empty"));
  CHECK(msg.code == content);
  CHECK(tt::text(msg).empty());
  CHECK_FALSE(points.find({tt::cik, "empty"}, now).has_value());

  // A plain read is a plain read.
  client.answer(200, "temp=1");
  run(d, get_value("temp"));
  CHECK_FALSE(tt::header(client.sent.back(), "Request-Timeout").has_value());
}

}  // namespace
}  // namespace gw::runner::test

namespace gw::runner::test {
namespace {

TEST_CASE_METHOD(fixture, "a CIK upstream refused is refused again without asking, for a while",
                 "[runner]") {
  options.rejected_cik_ttl = 30s;
  auto d = make();
  client.answer(401);
  tt::check_error(run(d, get_value("temp")), unauthorized);
  CHECK(client.sent.size() == 1);
  for (int i = 0; i < 5; ++i) tt::check_error(run(d, post_value("temp", "1")), unauthorized);
  CHECK(client.sent.size() == 1);
  now += 30s;
  client.answer(200, "temp=1");
  CHECK(run(d, get_value("temp")).code == content);
  CHECK(client.sent.size() == 2);
}

TEST_CASE("RPC and Activate take the long-call lane; the rest the short one", "[runner]") {
  fixture f;
  scripted_client long_calls;
  procedure_runner d(f.client, f.options, f.clock, nullptr, &long_calls);
  long_calls.answer(200, "cik");
  f.run(d, tt::make_request(post, {"provision", "activate", "acme", "widget", "1"}));
  f.client.answer(200, "temp=1");
  f.run(d, get_value("temp"));
  CHECK(long_calls.sent.size() == 1);
  CHECK(f.client.sent.size() == 1);
  CHECK(long_calls.sent[0].target == "/provision/activate");
}

}  // namespace
}  // namespace gw::runner::test

namespace gw::runner::test {
namespace {

// --- the per-CIK write limit (runner/write_limiter.hpp) ----------------------------------------

TEST_CASE_METHOD(fixture, "the per-CIK write limit is off by default", "[runner][limits]") {
  auto d = make();
  client.answer(200, lookup_ok);
  for (int i = 0; i < 5; ++i) {
    client.answer(204);
    CHECK(run(d, post_value("temp", std::to_string(i))).code == changed);
  }
  CHECK(client.sent.size() == 6);
}

TEST_CASE_METHOD(fixture, "over the per-CIK write limit: 4.29 with Max-Age and no upstream call",
                 "[runner][limits]") {
  options.write_limit.rate = 1;  // Exosite's once a second per dataport
  auto d = make();
  client.answer(200, lookup_ok);
  client.answer(204);
  CHECK(run(d, post_value("temp", "1")).code == changed);
  auto refused = run(d, post_value("temp", "2"));
  CHECK(refused.code == coap::codes::too_many_requests);
  CHECK(refused.uint_option(coap::opt::max_age) == 1u);
  CHECK(client.sent.size() == 2);  // lookup and the first write only
  // Another dataport of the same CIK has its own bucket.
  client.answer(200, lookup_ok);
  client.answer(204);
  CHECK(run(d, post_value("humidity", "3")).code == changed);
  // A second later the dataport takes a write again.
  now += std::chrono::seconds(1);
  client.answer(204);
  CHECK(run(d, post_value("temp", "4")).code == changed);

  // Per CIK: one bucket whatever the alias.
  options.write_limit.per_alias = false;
  d.set_options(options);
  now += std::chrono::seconds(5);
  client.answer(204);
  CHECK(run(d, post_value("temp", "5")).code == changed);
  CHECK(run(d, post_value("humidity", "6")).code == coap::codes::too_many_requests);
}

}  // namespace
}  // namespace gw::runner::test
