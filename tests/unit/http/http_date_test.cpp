#include <catch2/catch.hpp>

#include "http/http_date.hpp"

using gw::http::format_http_date;
using gw::http::parse_http_date;
using gw::http::parse_time_header;

// RFC 9110 §5.6.7 uses one instant in all three forms.
constexpr std::int64_t rfc_example = 784111777;  // 1994-11-06T08:49:37Z

TEST_CASE("format_http_date writes IMF-fixdate", "[http_date]") {
  CHECK(format_http_date(rfc_example) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(format_http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(format_http_date(951782400) == "Tue, 29 Feb 2000 00:00:00 GMT");
  CHECK(format_http_date(1700000000) == "Tue, 14 Nov 2023 22:13:20 GMT");
  CHECK(format_http_date(-1) == "Wed, 31 Dec 1969 23:59:59 GMT");
  CHECK(format_http_date(253402300799) == "Fri, 31 Dec 9999 23:59:59 GMT");
}

TEST_CASE("parse_http_date reads the three forms of RFC 9110 §5.6.7", "[http_date]") {
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").value() == rfc_example);
  CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").value() == rfc_example);
  CHECK(parse_http_date("Sun Nov  6 08:49:37 1994").value() == rfc_example);
  CHECK(parse_http_date("Tue Nov 14 22:13:20 2023").value() == 1700000000);
  // Two-digit years: 1970..2069.
  CHECK(parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT").value() == 0);
  CHECK(parse_http_date("Tuesday, 14-Nov-23 22:13:20 GMT").value() == 1700000000);
}

TEST_CASE("format and parse round-trip", "[http_date]") {
  for (const std::int64_t t : {std::int64_t{0}, rfc_example, std::int64_t{951782399},
                               std::int64_t{1700000000}, std::int64_t{4102444800}}) {
    CHECK(parse_http_date(format_http_date(t)).value() == t);
  }
}

TEST_CASE("parse_http_date rejects malformed dates", "[http_date]") {
  for (const char* bad :
       {"", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ", "Sun Nov 6 08:49:37 1994",
        "Sun, 06-Nov-94 08:49:37 GMT", "1994-11-06T08:49:37Z"}) {
    INFO(bad);
    CHECK(parse_http_date(bad).error() == gw::http::error::bad_date);
  }
}

TEST_CASE("parse_time_header accepts Unix seconds or an HTTP-date", "[http_date]") {
  CHECK(parse_time_header("1700000000").value() == 1700000000);
  CHECK(parse_time_header(" 0 ").value() == 0);
  CHECK(parse_time_header("Sun, 06 Nov 1994 08:49:37 GMT").value() == rfc_example);
  CHECK(parse_time_header("  Sun, 06 Nov 1994 08:49:37 GMT").value() == rfc_example);
  CHECK(parse_time_header("12abc").error() == gw::http::error::bad_number);
  CHECK(parse_time_header("99999999999999999999").error() == gw::http::error::bad_number);
  CHECK(parse_time_header("-5").has_error());
  CHECK(parse_time_header("").has_error());
}
