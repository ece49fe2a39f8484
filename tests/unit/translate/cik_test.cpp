// The CIK of the first Uri-Query: 40 hex characters (lowered) or its 20-byte binary form
// (hex-encoded in lower case), bare or as `<CIK>=` / `cik=<CIK>`; everything else is refused.
#include "translate/cik.hpp"

#include <string>

#include <catch2/catch.hpp>

#include "tests/unit/translate/translate_test_support.hpp"

namespace gw::translate {
namespace {

TEST_CASE("a 40-hex text CIK passes through in lower case", "[translate][cik]") {
  CHECK(decode_cik(test::cik) == test::cik);
  CHECK(decode_cik("A32C85BA9DDA45823BE416246CF8B433BAA068D7") == test::cik);
  CHECK(decode_cik("A32c85Ba9dDA45823be416246CF8b433BAA068d7") == test::cik);
  CHECK(decode_cik("0000000000000000000000000000000000000000") ==
        "0000000000000000000000000000000000000000");
  CHECK(decode_cik("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF") ==
        "ffffffffffffffffffffffffffffffffffffffff");
}

TEST_CASE("the 20-byte binary CIK of a captured datagram becomes lower-case hex",
          "[translate][cik]") {
  const auto binary = test::binary_cik();
  CHECK(decode_cik(binary) == test::cik);
  // The captured read carries the same key.
  const auto read = test::captured_request("read_binary_cik");
  REQUIRE(read.queries().size() == 1);
  CHECK(decode_cik(read.queries().front()) == test::cik);
}

TEST_CASE("any 20 bytes are a binary CIK", "[translate][cik]") {
  std::string zeros(20, '\0');
  CHECK(decode_cik(zeros) == std::string(40, '0'));
  std::string high(20, '\xff');
  CHECK(decode_cik(high) == std::string(40, 'f'));
  std::string mixed;
  for (int i = 0; i < 20; ++i) mixed += static_cast<char>(i * 13);
  CHECK(decode_cik(mixed) == "000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7");
}

TEST_CASE("wrong lengths and non-hex text are refused", "[translate][cik]") {
  CHECK_FALSE(decode_cik("").has_value());
  CHECK_FALSE(decode_cik(test::cik.substr(0, 39)).has_value());
  CHECK_FALSE(decode_cik(test::cik + "0").has_value());
  CHECK_FALSE(decode_cik(test::cik.substr(0, 38)).has_value());
  CHECK_FALSE(decode_cik(test::binary_cik().substr(0, 19)).has_value());
  CHECK_FALSE(decode_cik(test::binary_cik() + '\x01').has_value());
  CHECK_FALSE(decode_cik(std::string(80, 'a')).has_value());

  for (char bad : {'g', 'G', 'z', ' ', '-', ':', '\0', 'x'}) {
    for (std::size_t pos : {std::size_t{0}, std::size_t{17}, std::size_t{39}}) {
      auto s = test::cik;
      s[pos] = bad;
      INFO("byte " << static_cast<int>(bad) << " at " << pos);
      CHECK_FALSE(decode_cik(s).has_value());
    }
  }
  // 40 bytes that are 20 two-byte UTF-8 characters are neither form.
  std::string utf8;
  for (int i = 0; i < 20; ++i) utf8 += "\xc3\xa9";
  CHECK_FALSE(decode_cik(utf8).has_value());
  // "0x" prefix and percent-encoding are not forms the API document names.
  CHECK_FALSE(decode_cik("0x" + test::cik).has_value());
}

TEST_CASE("key=value forms: <CIK>=, cik=<CIK> in any case, text or binary",
          "[translate][cik]") {
  const auto binary = test::binary_cik();
  CHECK(decode_cik(test::cik + "=") == test::cik);  // node-coap-client
  CHECK(decode_cik("cik=" + test::cik) == test::cik);
  CHECK(decode_cik("CIK=" + test::cik) == test::cik);
  CHECK(decode_cik("Cik=A32C85BA9DDA45823BE416246CF8B433BAA068D7") == test::cik);
  CHECK(decode_cik(binary + "=") == test::cik);
  CHECK(decode_cik("cik=" + binary) == test::cik);
  // Not CIKs: another key, an empty value, a value of the wrong length, two '='.
  CHECK_FALSE(decode_cik("key=" + test::cik).has_value());
  CHECK_FALSE(decode_cik("cik=").has_value());
  CHECK_FALSE(decode_cik("cik=" + test::cik.substr(1)).has_value());
  CHECK_FALSE(decode_cik(test::cik + "==").has_value());
  CHECK_FALSE(decode_cik("cik:" + test::cik).has_value());
  // A 20-byte binary CIK whose last byte is '=' is still the bare binary form.
  auto ends_in_equals = binary;
  ends_in_equals.back() = '=';
  CHECK(decode_cik(ends_in_equals)->substr(38) == "3d");
}

TEST_CASE("alias query items: name, or name= as key=value clients send them",
          "[translate][cik]") {
  CHECK(query_alias("temp") == "temp");
  CHECK(query_alias("temp=") == "temp");
  CHECK(query_alias("") == "");
  CHECK(query_alias("a=b") == "a=b");  // a value is not an alias form: left as is
}

}  // namespace
}  // namespace gw::translate
