#include <catch2/catch.hpp>

#include "http/form.hpp"

using gw::http::form_pairs;

TEST_CASE("percent_encode keeps only the RFC 3986 unreserved set", "[form]") {
  CHECK(gw::http::percent_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(gw::http::percent_encode("a b") == "a%20b");
  CHECK(gw::http::percent_encode("a+b=c&d%") == "a%2Bb%3Dc%26d%25");
  CHECK(gw::http::percent_encode("/?#") == "%2F%3F%23");
  // UTF-8 bytes one by one, upper-case hex: "é" is C3 A9.
  CHECK(gw::http::percent_encode("\xC3\xA9") == "%C3%A9");
  CHECK(gw::http::percent_encode(std::string_view("\0", 1)) == "%00");
  CHECK(gw::http::percent_encode("") == "");
}

TEST_CASE("percent_decode reverses percent_encode and rejects bad escapes", "[form]") {
  CHECK(gw::http::percent_decode("a%20b").value() == "a b");
  CHECK(gw::http::percent_decode("%c3%a9").value() == "\xC3\xA9");
  CHECK(gw::http::percent_decode("a+b").value() == "a+b");
  for (const std::string& s :
       std::vector<std::string>{"", "x y=&", "\xC3\xA9\xE2\x82\xAC", std::string("\0\xff", 2)}) {
    CHECK(gw::http::percent_decode(gw::http::percent_encode(s)).value() == s);
  }
  for (const char* bad : {"%", "%4", "a%4", "%zz", "%4g", "%%41", "%-1"}) {
    INFO(bad);
    const auto r = gw::http::percent_decode(bad);
    REQUIRE(r.has_error());
    CHECK(r.error() == gw::http::error::bad_percent_escape);
  }
}

TEST_CASE("form_decode accepts '+' and %20 for a space", "[form]") {
  CHECK(gw::http::form_decode("msg=hello+world").value() == form_pairs{{"msg", "hello world"}});
  CHECK(gw::http::form_decode("msg=hello%20world").value() == form_pairs{{"msg", "hello world"}});
  CHECK(gw::http::form_decode("my+key=1").value() == form_pairs{{"my key", "1"}});
  CHECK(gw::http::form_decode("a=%2B").value() == form_pairs{{"a", "+"}});
}

TEST_CASE("form_decode splits on & and the first =", "[form]") {
  CHECK(gw::http::form_decode("a1=v1&a2=v2").value() == form_pairs{{"a1", "v1"}, {"a2", "v2"}});
  CHECK(gw::http::form_decode("eq=a=b").value() == form_pairs{{"eq", "a=b"}});
  CHECK(gw::http::form_decode("v=%3D%26").value() == form_pairs{{"v", "=&"}});
  CHECK(gw::http::form_decode("bare&k=").value() == form_pairs{{"bare", ""}, {"k", ""}});
  CHECK(gw::http::form_decode("&&a=1&&").value() == form_pairs{{"a", "1"}});
  CHECK(gw::http::form_decode("").value().empty());
  CHECK(gw::http::form_decode("a=1&a=2").value() == form_pairs{{"a", "1"}, {"a", "2"}});
  CHECK(gw::http::form_decode("t=%E2%82%AC").value() == form_pairs{{"t", "\xE2\x82\xAC"}});
}

TEST_CASE("form_decode reports a bad escape in a key or a value", "[form]") {
  CHECK(gw::http::form_decode("a=%zz").error() == gw::http::error::bad_percent_escape);
  CHECK(gw::http::form_decode("%=1").error() == gw::http::error::bad_percent_escape);
  CHECK(gw::http::form_decode("ok=1&b=%4").error() == gw::http::error::bad_percent_escape);
}

TEST_CASE("form_encode escapes = and & so values round-trip", "[form]") {
  const form_pairs pairs{{"temp", "21.5"}, {"note", "a=b&c d+e"}, {"utf8", "\xC3\xA9"}, {"", ""}};
  const auto body = gw::http::form_encode(pairs);
  CHECK(body == "temp=21.5&note=a%3Db%26c%20d%2Be&utf8=%C3%A9&=");
  // An empty key and value give a segment "=": decoding keeps it.
  CHECK(gw::http::form_decode(body).value() == pairs);
  CHECK(gw::http::form_encode({}) == "");
}

TEST_CASE("alias_query builds the bare-alias query of a read", "[form]") {
  const std::vector<std::string> aliases{"temp", "hum idity", "a&b"};
  CHECK(gw::http::alias_query(aliases) == "temp&hum%20idity&a%26b");
  CHECK(gw::http::alias_query(std::vector<std::string>{}) == "");
  // The sim reads it back with form_decode: keys with empty values.
  CHECK(gw::http::form_decode(gw::http::alias_query(aliases)).value() ==
        form_pairs{{"temp", ""}, {"hum idity", ""}, {"a&b", ""}});
}
