// Every message format error of RFC 7252 §3 and §4.1, each with its own error value.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "gateway/coap/codec.hpp"
#include "tests/unit/coap/hex.hpp"

namespace coap = gw::coap;
using coap::error;
using coap::test::from_hex;

namespace {

struct malformed {
  const char* why;
  std::string hex;
  error expected;
};

std::string hex_of(std::size_t n, const char* byte) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += byte;
  return out;
}

}  // namespace

TEST_CASE("malformed datagrams fail with their specific error", "[codec][malformed]") {
  const std::vector<malformed> table{
      {"no bytes", "", error::truncated_header},
      {"1 byte", "40", error::truncated_header},
      {"3 bytes", "400100", error::truncated_header},
      {"version 0", "00010001", error::bad_version},
      {"version 2", "80010001", error::bad_version},
      {"version 3", "c0010001", error::bad_version},
      {"version 0 with a reserved TKL", "0f000001ff", error::bad_version},
      {"TKL 9", "49010001" + hex_of(9, "aa"), error::bad_token_length},
      {"TKL 12", "4c010001" + hex_of(12, "aa"), error::bad_token_length},
      {"TKL 15", "4f010001", error::bad_token_length},
      {"TKL 9 on an empty message", "49000001" + hex_of(9, "aa"), error::bad_token_length},
      {"token cut", "42010001aa", error::truncated_token},
      {"token missing", "48010001", error::truncated_token},
      {"delta 15", "40010001f0", error::reserved_option_nibble},
      {"delta 15 with a value", "40010001f161", error::reserved_option_nibble},
      {"length 15", "400100010f", error::reserved_option_nibble},
      {"length 15 after a good option",
       "40010001b161"
       "0f",
       error::reserved_option_nibble},
      {"delta 13 extension missing", "40010001d0", error::truncated_option},
      {"delta 14 extension missing", "40010001e0", error::truncated_option},
      {"delta 14 extension half", "40010001e000", error::truncated_option},
      {"length 13 extension missing", "400100011d", error::truncated_option},
      {"length 14 extension half", "400100011e01", error::truncated_option},
      {"length 13 extension after delta 13", "40010001dd00", error::truncated_option},
      {"value cut", "4001000113aabb", error::truncated_option},
      {"value missing", "40010001b4", error::truncated_option},
      {"13-byte value cut", "400100011d00" + hex_of(12, "aa"), error::truncated_option},
      {"269-byte value cut", "400100011e0000" + hex_of(268, "aa"), error::truncated_option},
      {"delta 14 beyond 65535", "40010001e0fef3", error::option_number_overflow},
      {"delta 14 at its maximum", "40010001e0ffff", error::option_number_overflow},
      {"65535 then one more", "40010001e0fef210", error::option_number_overflow},
      {"65535 then delta 13", "40010001e0fef2d000", error::option_number_overflow},
      {"marker alone", "40010001ff", error::empty_payload_after_marker},
      {"marker after token", "41010001aaff", error::empty_payload_after_marker},
      {"marker after options", "40010001b161ff", error::empty_payload_after_marker},
      {"empty with token", "41000001aa", error::empty_message_not_empty},
      {"empty with TKL but no token", "41000001", error::empty_message_not_empty},
      {"empty with an option", "4000000110", error::empty_message_not_empty},
      {"empty with a payload", "40000001ff00", error::empty_message_not_empty},
      {"empty with a lone marker", "40000001ff", error::empty_message_not_empty},
      {"empty RST with a byte", "7000000100", error::empty_message_not_empty},
      {"empty ACK with token", "68000001" + hex_of(8, "01"), error::empty_message_not_empty},
  };
  for (const auto& m : table) {
    INFO(m.why << ": " << m.hex);
    const auto r = coap::decode(from_hex(m.hex));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == m.expected);
    CHECK(r.error().category() == coap::error_category());
  }
}

TEST_CASE("the same bytes are fine where they are not malformed", "[codec][malformed]") {
  // 0xff inside a value or a token is data, not the payload marker.
  CHECK(coap::decode(from_hex("41010001ff")).has_value());
  CHECK(coap::decode(from_hex("4001000111ff")).has_value());
  // A nibble 15 inside the payload is payload.
  CHECK(coap::decode(from_hex("40010001ff0f")).has_value());
  // TKL 8 is the largest legal token.
  CHECK(coap::decode(from_hex("48010001" + hex_of(8, "aa"))).has_value());
  // 0.00 with nothing after the MID is the Empty message, whatever the type.
  for (const char* h : {"40000001", "50000001", "60000001", "70000001"}) {
    CHECK(coap::decode(from_hex(h)).has_value());
  }
}
