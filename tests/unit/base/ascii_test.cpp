#include "base/ascii.hpp"

#include <catch2/catch.hpp>

using gw::base::ascii_lower;
using gw::base::iequals;
using gw::base::to_lower;

TEST_CASE("ascii_lower folds A-Z and nothing else") {
  CHECK(ascii_lower('A') == 'a');
  CHECK(ascii_lower('Z') == 'z');
  CHECK(ascii_lower('a') == 'a');
  CHECK(ascii_lower('@') == '@');  // 'A' - 1
  CHECK(ascii_lower('[') == '[');  // 'Z' + 1
  CHECK(ascii_lower('-') == '-');
  // UTF-8 bytes stay as they are, whatever the process locale says (Latin-1 'Ä' is 0xC4).
  CHECK(ascii_lower(static_cast<char>(0xC4)) == static_cast<char>(0xC4));
}

TEST_CASE("iequals compares ASCII without case") {
  struct row {
    std::string_view a, b;
    bool equal;
  };
  const row rows[] = {
      {"", "", true},
      {"Content-Type", "content-type", true},
      {"HTTPS", "https", true},
      {"bytes", "Bytes", true},
      {"bytes", "byte", false},   // length differs
      {"bytes", "bytez", false},  // one letter differs
      {"a-b", "a_b", false},
      {"\xC4", "\xE4", false},  // Latin-1 Ä/ä: not ASCII, not folded
  };
  for (const auto& r : rows) {
    CAPTURE(r.a, r.b);
    CHECK(iequals(r.a, r.b) == r.equal);
    CHECK(iequals(r.b, r.a) == r.equal);
  }
  static_assert(iequals("Retry-After", "retry-after"));
}

TEST_CASE("to_lower folds a copy") {
  CHECK(to_lower("Text/Plain; CharSet=UTF-8") == "text/plain; charset=utf-8");
  CHECK(to_lower("").empty());
  CHECK(to_lower("\xC3\x84x") == "\xC3\x84x");
}
