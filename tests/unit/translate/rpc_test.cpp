// The RPC proxy: CBOR or JSON in, JSON-RPC upstream, CBOR or JSON back; whole-request errors
// mapped to codes with the error object kept in the payload.
#include "translate/rpc.hpp"

#include <string>
#include <variant>

#include <catch2/catch.hpp>

#include "tests/unit/translate/translate_test_support.hpp"
#include "translate/cbor_json.hpp"
#include "translate/content_format.hpp"

namespace gw::translate {
namespace {

using namespace coap::codes;
using test::from_hex;

// The request of the CoAP API document's example.
json example_call() {
  return json::parse(R"({"auth": {"cik": ")" + test::cik + R"("},
    "calls": [
      {"id": 1, "procedure": "read", "arguments": [{"alias": "r1"}, {"limit": 1}]},
      {"id": 2, "procedure": "write", "arguments": [{"alias": "w1"}, 65.4]},
      {"id": 3, "procedure": "record",
       "arguments": [{"alias": "w2"}, [[1410360812, 65.4], [1410360813, 66.3]], {}]}]})");
}

const std::string example_answer = R"([{"id": 1, "status": "ok", "result": [[1410360840, 64.2]]},
  {"id": 2, "status": "ok"}, {"id": 3, "status": "invalid"}])";

coap::message rpc_request() {
  return test::make_request(post, {"rpc"});
}

coap::message cbor_request(const json& doc) {
  return test::with_payload(rpc_request(), json_to_cbor(doc));
}

rpc_plan planned(const coap::message& request) {
  auto p = plan_rpc(request);
  if (auto* error = std::get_if<coap::message>(&p))
    FAIL("refused with " << error->code.to_string() << ": " << test::text(*error));
  return std::get<rpc_plan>(std::move(p));
}

coap::message refused(const coap::message& request) {
  auto p = plan_rpc(request);
  if (std::holds_alternative<rpc_plan>(p)) {
    FAIL_CHECK("accepted");
    return {};
  }
  return std::get<coap::message>(std::move(p));
}

json decoded(const coap::message& msg) {
  auto doc = cbor_to_json(msg.payload);
  REQUIRE(doc.has_value());
  return *doc;
}

TEST_CASE("plan_rpc: a CBOR request becomes the JSON body", "[translate][rpc]") {
  for (auto with_format : {false, true}) {
    INFO("Content-Format 60 given: " << with_format);
    auto request = cbor_request(example_call());
    if (with_format) request = test::with_format(request, cf::cbor);
    auto plan = planned(request);
    CHECK(plan.answer_format == cf::cbor);
    CHECK(plan.http.method == "POST");
    CHECK(plan.http.target == "/onep:v1/rpc/process");
    CHECK(test::header(plan.http, "Content-Type") == "application/json; charset=utf-8");
    auto body = json::parse(plan.http.body, nullptr, false);
    REQUIRE_FALSE(body.is_discarded());
    CHECK(body == example_call());
    CHECK(plan.http.body == example_call().dump());  // key order kept
  }
}

TEST_CASE("plan_rpc: CBOR byte strings and tags follow RFC 8949 §6.1", "[translate][rpc]") {
  // {"b": h'0102', "t": 1(1410360812)}
  auto plan = planned(test::with_payload(rpc_request(), from_hex("a2 61 62 42 01 02 61 74 c1 1a "
                                                                 "54 10 65 ec")));
  CHECK(plan.http.body == R"({"b":"AQI","t":1410360812})");
}

TEST_CASE("plan_rpc: a JSON request passes through unchanged", "[translate][rpc]") {
  const std::string body = "{ \"auth\" : {\"cik\": \"" + test::cik +
                           "\"},\n  \"calls\": [{\"id\": \"x\", \"procedure\": \"listing\", "
                           "\"arguments\": [[\"dataport\"], {}]}] }";
  auto plan = planned(test::with_payload(test::with_format(rpc_request(), cf::json), body));
  CHECK(plan.http.body == body);
  CHECK(plan.http.method == "POST");
  CHECK(plan.http.target == "/onep:v1/rpc/process");
  CHECK(test::header(plan.http, "Content-Type") == "application/json; charset=utf-8");
}

TEST_CASE("plan_rpc: Accept chooses the answer format", "[translate][rpc]") {
  auto plan = planned(test::with_accept(cbor_request(example_call()), cf::json));
  CHECK(plan.answer_format == cf::json);
  plan = planned(test::with_accept(cbor_request(example_call()), cf::cbor));
  CHECK(plan.answer_format == cf::cbor);
  plan = planned(test::with_accept(
      test::with_payload(test::with_format(rpc_request(), cf::json), example_call().dump()),
      cf::cbor));
  CHECK(plan.answer_format == cf::cbor);
  plan = planned(test::with_accept(
      test::with_payload(test::with_format(rpc_request(), cf::json), example_call().dump()),
      cf::json));
  CHECK(plan.answer_format == cf::json);
}

TEST_CASE("plan_rpc: refusals", "[translate][rpc]") {
  SECTION("bad CBOR is 4.00 naming the offset") {
    for (auto hex :
         {"", "a1 61", "a1 01 02", "a2 61 61 01 61 61 02", "82 01", "01 02", "fa 7f c0 00 00"}) {
      INFO("CBOR " << hex);
      auto msg = refused(test::with_payload(rpc_request(), from_hex(hex)));
      test::check_error(msg, bad_request);
      CHECK(test::text(msg).find("offset") != std::string::npos);
    }
  }
  SECTION("bad JSON is 4.00") {
    for (std::string_view body : {"", "{", "{\"a\": }", "[1,]", "{} {}", "\xff"}) {
      INFO(body);
      auto request = test::with_payload(test::with_format(rpc_request(), cf::json), body);
      test::check_error(refused(request), bad_request);
    }
  }
  SECTION("another Content-Format is 4.15") {
    for (std::uint16_t format : {cf::text_plain, cf::octet_stream, cf::xml, std::uint16_t{112}}) {
      INFO(format);
      auto request =
          test::with_format(test::with_payload(rpc_request(), example_call().dump()), format);
      test::check_error(refused(request), unsupported_content_format);
    }
  }
  SECTION("another Accept is 4.06") {
    for (std::uint16_t accept : {cf::text_plain, cf::octet_stream, cf::link_format}) {
      INFO(accept);
      test::check_error(refused(test::with_accept(cbor_request(example_call()), accept)),
                        not_acceptable);
    }
  }
}

TEST_CASE("render_rpc: per-call statuses are a 2.05 list", "[translate][rpc]") {
  const auto request = cbor_request(example_call());
  const auto plan = planned(request);
  auto msg = render_rpc(request, plan, test::make_answer(200, example_answer));
  CHECK(msg.code == content);
  CHECK(msg.token == test::token);
  CHECK(msg.content_format() == cf::cbor);
  CHECK(decoded(msg) == json::parse(example_answer));
  // The float 64.2 stays a float, the timestamp an integer.
  CHECK(decoded(msg)[0]["result"][0][0].is_number_integer());
  CHECK(decoded(msg)[0]["result"][0][1].is_number_float());
}

TEST_CASE("render_rpc: Accept 50 returns the upstream JSON unchanged", "[translate][rpc]") {
  const auto request = test::with_accept(cbor_request(example_call()), cf::json);
  const auto plan = planned(request);
  auto msg = render_rpc(request, plan, test::make_answer(200, example_answer));
  CHECK(msg.code == content);
  CHECK(msg.content_format() == cf::json);
  CHECK(test::text(msg) == example_answer);
}

TEST_CASE("render_rpc: whole-request errors map their code and keep the object",
          "[translate][rpc]") {
  struct row {
    int code;
    coap::code expected;
  };
  for (auto [code, expected] : {row{401, unauthorized}, row{400, bad_request}, row{-1, bad_request},
                                row{500, bad_gateway}, row{501, bad_gateway}}) {
    INFO("error code " << code);
    const std::string body = R"({"error": {"code": )" + std::to_string(code) +
                             R"(, "message": "m", "context": "auth"}})";
    const auto request = cbor_request(example_call());
    auto msg = render_rpc(request, planned(request), test::make_answer(200, body));
    CHECK(msg.code == expected);
    CHECK(msg.token == test::token);
    CHECK(msg.content_format() == cf::cbor);
    CHECK(decoded(msg) == json::parse(body));

    // Passed through as JSON when asked, with the same code.
    const auto json_request = test::with_accept(request, cf::json);
    msg = render_rpc(json_request, planned(json_request), test::make_answer(200, body));
    CHECK(msg.code == expected);
    CHECK(msg.content_format() == cf::json);
    CHECK(test::text(msg) == body);
  }
}

TEST_CASE("render_rpc: an unreadable upstream answer is 5.02", "[translate][rpc]") {
  const auto request = cbor_request(example_call());
  const auto plan = planned(request);
  for (std::string_view body : {"", "<html>", "[{\"id\": 1,"}) {
    INFO(body);
    test::check_error(render_rpc(request, plan, test::make_answer(200, std::string(body))),
                      bad_gateway);
  }
}

// Upstream bodies are untrusted input and must never throw (STYLE.md §5).
TEST_CASE("render_rpc: an error member that is not an object does not throw", "[translate][rpc]") {
  const auto request = cbor_request(example_call());
  const auto plan = planned(request);
  for (std::string_view body : {R"({"error": "boom"})", R"({"error": []})",
                                R"({"error": [401, 2]})", R"({"error": {"code": "401"}})"}) {
    INFO(body);
    coap::message msg;
    CHECK_NOTHROW(msg = render_rpc(request, plan, test::make_answer(200, std::string(body))));
    CHECK(msg.code == bad_gateway);
  }
}

}  // namespace
}  // namespace gw::translate
