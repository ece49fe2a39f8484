// Plans and renders of the dataport procedures: Write, Read, the `lookup` alias check, and
// Multiple Read and Write (upstream-http-api.md "Data interface").
#include "translate/dataport.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>

#include "http/form.hpp"
#include "tests/unit/translate/translate_test_support.hpp"
#include "translate/cbor_json.hpp"
#include "translate/content_format.hpp"

namespace gw::translate {
namespace {

using namespace coap::codes;
using test::from_hex;
using test::to_hex;

constexpr std::string_view form_type = "application/x-www-form-urlencoded; charset=utf-8";

coap::message write_request() {
  return test::make_request(post, {"1a", "temp"}, {test::cik});
}

// The value write_value accepts, or a failed CHECK and "".
std::string accepted(const coap::message& request) {
  auto v = write_value(request);
  if (auto* error = std::get_if<coap::message>(&v)) {
    FAIL_CHECK("refused with " << error->code.to_string() << ": " << test::text(*error));
    return {};
  }
  return std::get<std::string>(v);
}

coap::message refused(const coap::message& request) {
  auto v = write_value(request);
  if (auto* value = std::get_if<std::string>(&v)) {
    FAIL_CHECK("accepted as \"" << *value << "\"");
    return {};
  }
  return std::get<coap::message>(v);
}

// --- Write ---------------------------------------------------------------------------------

TEST_CASE("plan_write: POST of a form body to the alias interface", "[translate][dataport]") {
  auto r = plan_write(test::cik, "temp", "26.1");
  CHECK(r.method == "POST");
  CHECK(r.target == "/onep:v1/stack/alias");
  CHECK(test::header(r, "Content-Type") == std::string(form_type));
  CHECK(test::header(r, "X-Exosite-CIK") == test::cik);
  CHECK(r.body == "temp=26.1");
  // A write is not idempotent: it must not be retried on its own.
  CHECK(r.idempotent != true);
}

TEST_CASE("plan_write: form-encodes aliases and values", "[translate][dataport]") {
  const std::string alias = "my alias&x=y";
  const std::string value =
      "a+b c=d&e \xc2\xb0"
      "C %41";
  auto r = plan_write(test::cik, alias, value);
  // One pair: the only raw '=' separates key from value, no raw '&', '+' or space.
  CHECK(std::count(r.body.begin(), r.body.end(), '=') == 1);
  CHECK(r.body.find('&') == std::string::npos);
  CHECK(r.body.find(' ') == std::string::npos);
  CHECK(r.body.find('+') == std::string::npos);
  // '+' must arrive as a plus, not as a space (a form decoder reads '+' as space).
  CHECK(r.body.find("%2B") != std::string::npos);
  CHECK(r.body.find("%C2%B0") != std::string::npos);  // UTF-8 bytes, each escaped
  auto decoded = http::form_decode(r.body);
  REQUIRE(decoded.has_value());
  REQUIRE(decoded->size() == 1);
  CHECK(decoded->front().first == alias);
  CHECK(decoded->front().second == value);
  CHECK(r.body == "my%20alias%26x%3Dy=a%2Bb%20c%3Dd%26e%20%C2%B0C%20%2541");
}

TEST_CASE("write_value: UTF-8 text without Content-Format or with 0", "[translate][dataport]") {
  CHECK(accepted(test::with_payload(write_request(), "37")) == "37");
  CHECK(accepted(test::with_payload(write_request(), "")) == "");
  CHECK(accepted(test::with_format(test::with_payload(write_request(), "h\xc3\xa9llo w\xc3\xb6rld"),
                                   cf::text_plain)) == "h\xc3\xa9llo w\xc3\xb6rld");
  CHECK(accepted(test::with_payload(write_request(), "\xf0\x9f\x98\x80 \xe2\x82\xac")) ==
        "\xf0\x9f\x98\x80 \xe2\x82\xac");
  CHECK(accepted(test::with_payload(write_request(), "a=b&c")) == "a=b&c");
}

TEST_CASE("write_value: a JSON string or number (Content-Format 50) as text",
          "[translate][dataport]") {
  // node-coap-client labels every request Content-Format 50.
  auto json_write = [](std::string_view body) {
    return test::with_format(test::with_payload(write_request(), body), cf::json);
  };
  CHECK(accepted(json_write("22.5")) == "22.5");
  CHECK(accepted(json_write("-3")) == "-3");
  CHECK(accepted(json_write(R"("on")")) == "on");
  CHECK(accepted(json_write(R"("h\u00e9")")) == "h\xc3\xa9");
  for (auto other : {R"({"a": 1})", "[1]", "null", "true", "not json", ""})
    CHECK(refused(json_write(other)).code == unsupported_content_format);
}

TEST_CASE("write_value: a CBOR scalar (Content-Format 60) as text", "[translate][dataport]") {
  const std::vector<std::pair<std::string_view, std::string>> cases = {
      {"64 32 36 2e 31", "26.1"},  // text
      {"60", ""},                  // empty text
      {"62 c3 a9", "\xc3\xa9"},    // UTF-8 text
      {"00", "0"},                 // unsigned
      {"18 2a", "42"},             //
      {"24", "-5"},                // negative
      {"1b ffffffffffffffff", "18446744073709551615"},
      {"3b 7fffffffffffffff", "-9223372036854775808"},
      {"fb 40 50 59 99 99 99 99 9a", "65.4"},  // double
      {"f9 3e 00", "1.5"},                     // half float
      {"f5", "true"},
      {"f4", "false"},
      {"7f 62 32 36 62 2e 31 ff", "26.1"},  // indefinite-length text
  };
  for (const auto& [hex, expected] : cases) {
    INFO("CBOR " << hex);
    auto request = test::with_format(test::with_payload(write_request(), from_hex(hex)), cf::cbor);
    CHECK(accepted(request) == expected);
  }
}

TEST_CASE("write_value: CBOR maps, arrays and null are 4.00", "[translate][dataport]") {
  for (auto hex : {"a1 61 61 01", "a0", "82 01 02", "80", "f6", "f7"}) {
    INFO("CBOR " << hex);
    auto request = test::with_format(test::with_payload(write_request(), from_hex(hex)), cf::cbor);
    test::check_error(refused(request), bad_request);
  }
}

TEST_CASE("write_value: bad CBOR is 4.00 naming the offset", "[translate][dataport]") {
  const std::vector<std::pair<std::string_view, std::string_view>> cases = {
      {"64 32 36", "offset 0"},  // truncated text
      {"", "offset 0"},          // nothing at all
      {"01 02", "offset 1"},     // trailing bytes
      {"62 c3 28", "offset 0"},  // invalid UTF-8 in a text string
      {"1c", "offset 0"},        // reserved additional information
  };
  for (const auto& [hex, where] : cases) {
    INFO("CBOR " << hex);
    auto request = test::with_format(test::with_payload(write_request(), from_hex(hex)), cf::cbor);
    auto msg = refused(request);
    test::check_error(msg, bad_request);
    CHECK(test::text(msg).find(where) != std::string::npos);
  }
}

TEST_CASE("write_value: text that is not UTF-8 is 4.00", "[translate][dataport]") {
  for (std::string_view bad :
       {"\xff", "abc\x80", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xc3\x28", "\xfe\xfe"}) {
    INFO("bytes of length " << bad.size());
    test::check_error(refused(test::with_payload(write_request(), bad)), bad_request);
    test::check_error(refused(test::with_format(test::with_payload(write_request(), bad), 0)),
                      bad_request);
  }
}

// RFC 3629 §3: overlong forms, UTF-16 surrogates and code points above U+10FFFF are not UTF-8
// either (the CBOR decoder already refuses them: cbor_decode.cpp is_valid_utf8).
TEST_CASE("write_value: overlong forms, surrogates and > U+10FFFF are 4.00",
          "[translate][dataport]") {
  for (std::string_view bad :
       {"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x80\x80\xaf",
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf7\xbf\xbf\xbf"}) {
    INFO("bytes: " << to_hex(std::vector<std::uint8_t>(bad.begin(), bad.end())));
    auto v = write_value(test::with_payload(write_request(), bad));
    CHECK(std::holds_alternative<coap::message>(v));
    if (auto* msg = std::get_if<coap::message>(&v)) test::check_error(*msg, bad_request);
  }
}

TEST_CASE("write_value: other Content-Formats are 4.15", "[translate][dataport]") {
  // JSON (50) with a JSON number is a value: see the Content-Format 50 case above.
  for (std::uint16_t format : {cf::octet_stream, cf::xml, cf::link_format, std::uint16_t{11542}}) {
    INFO("Content-Format " << format);
    auto request = test::with_format(test::with_payload(write_request(), "37"), format);
    test::check_error(refused(request), unsupported_content_format);
  }
}

// --- Read ----------------------------------------------------------------------------------

TEST_CASE("plan_read: GET with a query of bare aliases", "[translate][dataport]") {
  const std::vector<std::string> one = {"temp"};
  auto r = plan_read(test::cik, one);
  CHECK(r.method == "GET");
  CHECK(r.target == "/onep:v1/stack/alias?temp");
  CHECK(test::header(r, "Accept") == std::string(form_type));
  CHECK(test::header(r, "X-Exosite-CIK") == test::cik);
  CHECK_FALSE(test::header(r, "Content-Type").has_value());
  CHECK(r.body.empty());

  const std::vector<std::string> several = {"a b", "c&d", "e=f", "\xc3\xa9", "x+y", "g.h_i-j~"};
  r = plan_read(test::cik, several);
  CHECK(r.target == "/onep:v1/stack/alias?a%20b&c%26d&e%3Df&%C3%A9&x%2By&g.h_i-j~");
}

TEST_CASE("parse_read_body: form-encoded pairs", "[translate][dataport]") {
  using pairs = std::vector<std::pair<std::string, std::string>>;
  CHECK(parse_read_body(test::make_answer(200, "temp=26.1")) == pairs{{"temp", "26.1"}});
  CHECK(parse_read_body(test::make_answer(200, "a=1&b=x+y%20z")) ==
        pairs{{"a", "1"}, {"b", "x y z"}});
  CHECK(parse_read_body(test::make_answer(200, "deg=%C2%B0&e=")) ==
        pairs{{"deg", "\xc2\xb0"}, {"e", ""}});
  CHECK(parse_read_body(test::make_answer(200, "a%20b=%2B%26%3D")) == pairs{{"a b", "+&="}});
  CHECK(parse_read_body(test::make_answer(200, "")) == pairs{});
  CHECK_FALSE(parse_read_body(test::make_answer(200, "a=%zz")).has_value());
  CHECK_FALSE(parse_read_body(test::make_answer(200, "a=%4")).has_value());
}

TEST_CASE("render_value: 2.05 text", "[translate][dataport]") {
  const auto request = test::make_request(get, {"1a", "temp"}, {test::cik});
  auto msg = render_value(request, "26.1", 0);
  CHECK(msg.code == content);
  CHECK(msg.token == test::token);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(test::text(msg) == "26.1");

  msg = render_value(request, "", 0);
  CHECK(msg.code == content);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(msg.payload.empty());
}

// --- lookup --------------------------------------------------------------------------------

TEST_CASE("plan_lookup: an RPC lookup call with the CIK in auth", "[translate][dataport]") {
  auto r = plan_lookup(test::cik, "temp");
  CHECK(r.method == "POST");
  CHECK(r.target == "/onep:v1/rpc/process");
  CHECK(test::header(r, "Content-Type") == "application/json; charset=utf-8");
  CHECK(r.idempotent == true);
  auto body = json::parse(r.body, nullptr, false);
  REQUIRE_FALSE(body.is_discarded());
  const auto expected = json::parse(R"({"auth": {"cik": ")" + test::cik +
                                    R"("}, "calls": [{"id": 1, "procedure": "lookup",
                                        "arguments": ["alias", "temp"]}]})");
  CHECK(body == expected);

  // An alias that needs JSON escaping stays one string.
  body = json::parse(plan_lookup(test::cik, "a\"b\\c").body, nullptr, false);
  REQUIRE_FALSE(body.is_discarded());
  CHECK(body["calls"][0]["arguments"][1] == "a\"b\\c");
}

TEST_CASE("parse_lookup", "[translate][dataport]") {
  const auto ok = test::make_answer(
      200, R"([{"id": 1, "status": "ok", "result": "2ab0b40e7a2c7fd1f6b6b3b7a4d1e5c9a8f7e6d5"}])");
  CHECK(parse_lookup(ok) == alias_state::exists);
  CHECK(parse_lookup(test::make_answer(200, R"([{"id":1,"status":"invalid"}])")) ==
        alias_state::missing);
  CHECK(parse_lookup(test::make_answer(200, R"([{"id":1,"status":"restricted"}])")) ==
        alias_state::missing);
  CHECK(parse_lookup(test::make_answer(200, R"([{"id":1,"status":"noauth"}])")) ==
        alias_state::unauthorized);
  // A whole-request failure is an object, with HTTP 200.
  CHECK(parse_lookup(test::make_answer(
            200, R"({"error": {"code": 401, "message": "Invalid", "context": "auth"}})")) ==
        alias_state::unauthorized);
  CHECK(parse_lookup(test::make_answer(
            200, R"({"error": {"code": 500, "message": "Internal", "context": "calls"}})")) ==
        alias_state::unknown);
  CHECK(parse_lookup(test::make_answer(200, R"({"error": {"code": -1}})")) == alias_state::unknown);
  // HTTP statuses.
  CHECK(parse_lookup(test::make_answer(401)) == alias_state::unauthorized);
  CHECK(parse_lookup(test::make_answer(500, "[]")) == alias_state::unknown);
  CHECK(parse_lookup(test::make_answer(503)) == alias_state::unknown);
  // Garbage.
  for (std::string_view body :
       {"", "not json", "[", "[]", "{}", "42", "\"ok\"", "[1]", R"([{"id":1}])",
        R"([{"id":1,"status":1}])", R"([{"id":1,"status":"error"}])", R"({"error": "boom"})",
        R"({"error": {"code": "401"}})"}) {
    INFO(body);
    CHECK(parse_lookup(test::make_answer(200, std::string(body))) == alias_state::unknown);
  }
}

TEST_CASE("plan_lookups and parse_lookups: one request, one call per alias, answers by id",
          "[translate][dataport]") {
  const std::vector<std::string> aliases = {"a", "b", "c"};
  auto body = json::parse(plan_lookups(test::cik, aliases).body);
  REQUIRE(body["calls"].size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(body["calls"][i]["id"] == i + 1);
    CHECK(body["calls"][i]["arguments"] == json::array({"alias", aliases[i]}));
  }
  // Answers in any order, matched by id; a call with no answer stays unknown.
  auto states = parse_lookups(
      test::make_answer(200, R"([{"id": 3, "status": "invalid"}, {"id": 1, "status": "ok"}])"), 3);
  CHECK(states == std::vector{alias_state::exists, alias_state::unknown, alias_state::missing});
  // A whole-request 401 is every alias's answer.
  states = parse_lookups(test::make_answer(401), 2);
  CHECK(states == std::vector{alias_state::unauthorized, alias_state::unauthorized});
  // Ids out of range are ignored.
  states = parse_lookups(test::make_answer(200, R"([{"id": 7, "status": "ok"}])"), 1);
  CHECK(states == std::vector{alias_state::unknown});
}

// Upstream bodies are untrusted input and must never throw (STYLE.md §5).
TEST_CASE("parse_lookup: an error member that is an array does not throw",
          "[translate][dataport]") {
  for (std::string_view body : {R"({"error": []})", R"({"error": [401]})"}) {
    INFO(body);
    alias_state state = alias_state::exists;
    CHECK_NOTHROW(state = parse_lookup(test::make_answer(200, std::string(body))));
    CHECK(state == alias_state::unknown);
  }
}

TEST_CASE("render_alias_missing: 4.03 with a diagnostic", "[translate][dataport]") {
  test::check_error(render_alias_missing(write_request()), forbidden);
}

// --- Multiple Read and Write -----------------------------------------------------------------

coap::message multi_request(std::vector<std::string> reads, std::string_view cbor_hex = "",
                            std::optional<std::uint16_t> format = std::nullopt) {
  reads.insert(reads.begin(), test::cik);
  auto m = test::make_request(post, {"1a"}, reads);
  if (format) m.add_uint_option(coap::opt::content_format, *format);
  m.payload = from_hex(cbor_hex);
  return m;
}

multi_plan planned(const coap::message& request) {
  auto p = plan_multi(request, test::cik);
  if (auto* error = std::get_if<coap::message>(&p)) {
    FAIL("refused with " << error->code.to_string() << ": " << test::text(*error));
  }
  return std::get<multi_plan>(std::move(p));
}

coap::message multi_refused(const coap::message& request) {
  auto p = plan_multi(request, test::cik);
  if (std::holds_alternative<multi_plan>(p)) {
    FAIL_CHECK("accepted");
    return {};
  }
  return std::get<coap::message>(std::move(p));
}

// {"w1": "26.1", "w2": "on"}
constexpr std::string_view two_writes = "a2 62 77 31 64 32 36 2e 31 62 77 32 62 6f 6e";

TEST_CASE("plan_multi: reads only is a GET", "[translate][dataport][multi]") {
  auto plan = planned(multi_request({"r1", "r 2"}));
  CHECK(plan.reads == std::vector<std::string>{"r1", "r 2"});
  CHECK(plan.writes.empty());
  CHECK(plan.http.method == "GET");
  CHECK(plan.http.target == "/onep:v1/stack/alias?r1&r%202");
  CHECK(test::header(plan.http, "Accept") == std::string(form_type));
  CHECK(test::header(plan.http, "X-Exosite-CIK") == test::cik);
  CHECK(plan.http.body.empty());
}

TEST_CASE("plan_multi: writes only is a POST without query", "[translate][dataport][multi]") {
  for (auto format : {std::optional<std::uint16_t>{}, std::optional<std::uint16_t>{cf::cbor}}) {
    INFO("Content-Format given: " << format.has_value());
    auto plan = planned(multi_request({}, two_writes, format));
    CHECK(plan.reads.empty());
    CHECK(plan.writes ==
          std::vector<std::pair<std::string, std::string>>{{"w1", "26.1"}, {"w2", "on"}});
    CHECK(plan.http.method == "POST");
    CHECK(plan.http.target == "/onep:v1/stack/alias");
    CHECK(test::header(plan.http, "Content-Type") == std::string(form_type));
    CHECK(test::header(plan.http, "X-Exosite-CIK") == test::cik);
    CHECK(plan.http.body == "w1=26.1&w2=on");
  }
}

TEST_CASE("plan_multi: reads and writes are one hybrid POST", "[translate][dataport][multi]") {
  auto plan = planned(multi_request({"r1", "r2"}, two_writes, cf::cbor));
  CHECK(plan.reads == std::vector<std::string>{"r1", "r2"});
  CHECK(plan.writes.size() == 2);
  CHECK(plan.http.method == "POST");
  CHECK(plan.http.target == "/onep:v1/stack/alias?r1&r2");
  CHECK(test::header(plan.http, "Content-Type") == std::string(form_type));
  CHECK(test::header(plan.http, "Accept") == std::string(form_type));
  CHECK(test::header(plan.http, "X-Exosite-CIK") == test::cik);
  CHECK(plan.http.body == "w1=26.1&w2=on");
}

TEST_CASE("plan_multi: scalar values as text, in map order, form-encoded",
          "[translate][dataport][multi]") {
  // {"n": 1, "f": 1.5, "b": true, "a b": "x&y=z+"}
  auto plan = planned(multi_request(
      {}, "a4 61 6e 01 61 66 f9 3e 00 61 62 f5 63 61 20 62 66 78 26 79 3d 7a 2b", cf::cbor));
  CHECK(plan.writes == std::vector<std::pair<std::string, std::string>>{
                           {"n", "1"}, {"f", "1.5"}, {"b", "true"}, {"a b", "x&y=z+"}});
  CHECK(plan.http.body == "n=1&f=1.5&b=true&a%20b=x%26y%3Dz%2B");
}

TEST_CASE("plan_multi: an empty map or empty payload writes nothing",
          "[translate][dataport][multi]") {
  auto plan = planned(multi_request({"r1"}, "a0", cf::cbor));
  CHECK(plan.writes.empty());
  CHECK(plan.http.method == "GET");
  CHECK(plan.http.target == "/onep:v1/stack/alias?r1");
  plan = planned(multi_request({"r1"}, "", cf::cbor));
  CHECK(plan.writes.empty());
  CHECK(plan.http.method == "GET");
}

TEST_CASE("plan_multi: bad payloads are 4.00", "[translate][dataport][multi]") {
  const std::vector<std::string_view> cases = {
      "a1 61",                 // truncated
      "a2 61 61 01 61 61 02",  // duplicate key
      "a1 61 61 01 00",        // trailing bytes
      "ff",                    // a lone break
      "82 01 02",              // not a map
      "64 32 36 2e 31",        // not a map
      "f6",                    // not a map
      "a1 01 02",              // non-text key
      "a1 41 61 02",           // byte-string key
      "a1 61 61 a0",           // nested map
      "a1 61 61 80",           // nested array
      "a1 61 61 82 01 02",     // nested array
      "a1 61 61 f6",           // null value
  };
  for (auto hex : cases) {
    INFO("CBOR " << hex);
    for (auto format : {std::optional<std::uint16_t>{}, std::optional<std::uint16_t>{cf::cbor}}) {
      test::check_error(multi_refused(multi_request({"r1"}, hex, format)), bad_request);
    }
  }
  auto msg = multi_refused(multi_request({}, "a1 61", cf::cbor));
  CHECK(test::text(msg).find("offset") != std::string::npos);
}

TEST_CASE("plan_multi: a payload in another Content-Format is 4.15",
          "[translate][dataport][multi]") {
  for (std::uint16_t format : {cf::text_plain, cf::json, cf::octet_stream}) {
    INFO(format);
    test::check_error(multi_refused(multi_request({"r1"}, two_writes, format)),
                      unsupported_content_format);
  }
}

TEST_CASE("render_multi: a CBOR map with every read alias", "[translate][dataport][multi]") {
  auto plan = planned(multi_request({"r1", "r2"}));

  auto msg = render_multi(multi_request({"r1", "r2"}), plan, test::make_answer(200, "r1=99&r2=0"));
  CHECK(msg.code == content);
  CHECK(msg.token == test::token);
  CHECK(msg.content_format() == cf::cbor);
  auto doc = cbor_to_json(msg.payload);
  REQUIRE(doc.has_value());
  CHECK(doc->dump() == R"({"r1":"99","r2":"0"})");

  // Absent aliases are null; aliases not asked for are dropped; the order is the query's.
  msg = render_multi(multi_request({"r1", "r2"}), plan, test::make_answer(200, "zz=1&r2=a+b"));
  CHECK(to_hex(msg.payload) ==
        "a2"
        "627231"
        "f6"
        "627232"
        "63612062");

  msg = render_multi(multi_request({"r1", "r2"}), plan, test::make_answer(204));
  CHECK(msg.code == content);
  CHECK(msg.content_format() == cf::cbor);
  CHECK(to_hex(msg.payload) ==
        "a2"
        "627231"
        "f6"
        "627232"
        "f6");

  // Writes only: an empty map.
  auto writes = planned(multi_request({}, two_writes));
  msg = render_multi(multi_request({}, two_writes), writes, test::make_answer(204));
  CHECK(msg.code == content);
  CHECK(to_hex(msg.payload) == "a0");

  // An upstream answer that is not a form: the gateway's 5.02.
  msg = render_multi(multi_request({"r1", "r2"}), plan, test::make_answer(200, "r1=%"));
  test::check_error(msg, bad_gateway);
}

}  // namespace
}  // namespace gw::translate
