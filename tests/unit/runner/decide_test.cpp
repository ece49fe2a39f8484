// procedure_runner::decide(): what a worker answers without a coroutine. Every answer it gives
// must be the one async_handle gives, and nothing that needs upstream may be answered here.
#include "tests/unit/runner/runner_rig.hpp"
#include "translate/content_format.hpp"
#include "translate/route_table.hpp"

namespace gw::runner::test {
namespace {

using namespace translate;

// decide() on its own, with no io_context: an answer here is given synchronously.
coap::message answered(procedure_runner& d, const coap::message& request) {
  auto decided = d.decide(request);
  REQUIRE(decided.answer.has_value());
  return *decided.answer;
}

TEST_CASE_METHOD(fixture, "decide: local answers need no upstream and match async_handle",
                 "[runner]") {
  auto d = make();
  const std::vector<coap::message> local = {
      tt::make_request(get, {".well-known", "core"}),
      tt::make_request(get, {"nope"}, {tt::cik}),
      tt::make_request(put, {"1a", "temp"}, {tt::cik}),
      tt::with_accept(tt::make_request(get, {".well-known", "core"}), cf::json),
      get_value("temp", {}),
      get_value("temp", {"not-a-cik"}),
  };
  for (const auto& request : local) {
    const auto now = answered(d, request);
    const auto later = run(d, request);
    CHECK(now.code == later.code);
    CHECK(now.payload == later.payload);
    CHECK(now.options == later.options);
  }
  CHECK(answered(d, local[0]).code == content);
  CHECK(answered(d, local[0]).content_format() == cf::link_format);
  CHECK(client.sent.empty());
}

TEST_CASE_METHOD(fixture, "decide: the route of a local answer is kept for metrics", "[runner]") {
  auto d = make();
  auto discovery = d.decide(tt::make_request(get, {".well-known", "core"}));
  REQUIRE(discovery.route != nullptr);
  CHECK(discovery.route->procedure == procedure::discovery);
  auto no_cik = d.decide(get_value("temp", {}));
  REQUIRE(no_cik.route != nullptr);
  CHECK(no_cik.route->procedure == procedure::read);
  CHECK(d.decide(tt::make_request(get, {"nope"})).route == nullptr);
}

TEST_CASE_METHOD(fixture, "decide: upstream work carries the route, parameters and CIK",
                 "[runner]") {
  auto d = make();
  auto read = d.decide(get_value("temp"));
  CHECK_FALSE(read.answer.has_value());
  REQUIRE(read.route != nullptr);
  CHECK(read.route->procedure == procedure::read);
  CHECK(read.params == std::vector<std::string>{"temp"});
  CHECK(read.cik == tt::cik);
  // The timestamp goes upstream unless timestamp.source is local.
  CHECK_FALSE(d.decide(tt::make_request(get, {"ts"})).answer.has_value());
  options.local_timestamp = true;
  d.set_options(options);
  CHECK(answered(d, tt::make_request(get, {"ts"})).code == content);
  CHECK(client.sent.empty());
}

TEST_CASE_METHOD(fixture, "decide: a CIK upstream refused is answered locally while remembered",
                 "[runner]") {
  auto d = make();
  client.answer(401);
  CHECK(run(d, get_value("temp")).code == unauthorized);
  REQUIRE(client.sent.size() == 1);
  CHECK(answered(d, get_value("temp")).code == unauthorized);
  now += options.rejected_cik_ttl;
  CHECK_FALSE(d.decide(get_value("temp")).answer.has_value());
  CHECK(client.sent.size() == 1);
}

}  // namespace
}  // namespace gw::runner::test
