// Timestamp: the upstream text parsed, then decimal text by default or a 4-byte big-endian
// signed integer when asked for with Accept 42 or Content-Format 42.
#include "translate/timestamp.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/unit/translate/translate_test_support.hpp"
#include "translate/content_format.hpp"

namespace gw::translate {
namespace {

using namespace coap::codes;

coap::message ts_request() {
  return test::make_request(get, {"ts"});
}

TEST_CASE("plan_timestamp: GET /timestamp without CIK", "[translate][timestamp]") {
  auto r = plan_timestamp();
  CHECK(r.method == "GET");
  CHECK(r.target == "/timestamp");
  CHECK_FALSE(test::header(r, "X-Exosite-CIK").has_value());
  CHECK(r.body.empty());
}

TEST_CASE("parse_timestamp", "[translate][timestamp]") {
  CHECK(parse_timestamp("1410360812") == 1410360812);
  CHECK(parse_timestamp("1410360812\n") == 1410360812);
  CHECK(parse_timestamp("1410360812\r\n") == 1410360812);
  CHECK(parse_timestamp("0") == 0);
  CHECK(parse_timestamp("-5") == -5);
  CHECK(parse_timestamp("4102444800") == 4102444800);
  CHECK_FALSE(parse_timestamp("").has_value());
  CHECK_FALSE(parse_timestamp("\n").has_value());
  CHECK_FALSE(parse_timestamp("abc").has_value());
  CHECK_FALSE(parse_timestamp("14103608.12").has_value());
  CHECK_FALSE(parse_timestamp("1410360812 1").has_value());
  CHECK_FALSE(parse_timestamp("0x10").has_value());
  CHECK_FALSE(parse_timestamp("99999999999999999999").has_value());
}

TEST_CASE("render_timestamp: decimal text by default", "[translate][timestamp]") {
  auto msg = render_timestamp(ts_request(), 1410360812);
  CHECK(msg.code == content);
  CHECK(msg.token == test::token);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(test::text(msg) == "1410360812");

  msg = render_timestamp(test::with_accept(ts_request(), cf::text_plain), 1410360812);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(test::text(msg) == "1410360812");

  msg = render_timestamp(ts_request(), -1);
  CHECK(test::text(msg) == "-1");
}

TEST_CASE("render_timestamp: binary with Accept 42 or Content-Format 42",
          "[translate][timestamp]") {
  const std::vector<coap::message> requests = {
      test::with_accept(ts_request(), cf::octet_stream),
      test::with_format(ts_request(), cf::octet_stream),
      test::with_accept(test::with_format(ts_request(), cf::octet_stream), cf::octet_stream),
  };
  for (const auto& request : requests) {
    auto msg = render_timestamp(request, 1410360812);  // 0x5410 65ec
    CHECK(msg.code == content);
    CHECK(msg.token == test::token);
    CHECK(msg.content_format() == cf::octet_stream);
    CHECK(msg.payload == coap::bytes{0x54, 0x10, 0x65, 0xec});

    // Signed, network byte order.
    msg = render_timestamp(request, -2);
    CHECK(msg.payload == coap::bytes{0xff, 0xff, 0xff, 0xfe});
    msg = render_timestamp(request, 0);
    CHECK(msg.payload == coap::bytes{0, 0, 0, 0});
  }
  // An explicit Accept 0 wins over the request's Content-Format.
  auto msg = render_timestamp(
      test::with_accept(test::with_format(ts_request(), cf::octet_stream), cf::text_plain), 7);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(test::text(msg) == "7");
}

TEST_CASE("render_timestamp: other Accept values are 4.06", "[translate][timestamp]") {
  for (std::uint16_t accept : {cf::json, cf::cbor, cf::xml, cf::link_format, std::uint16_t{1}}) {
    INFO("Accept " << accept);
    test::check_error(render_timestamp(test::with_accept(ts_request(), accept), 1410360812),
                      not_acceptable);
  }
}

}  // namespace
}  // namespace gw::translate
