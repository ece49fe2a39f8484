#include <catch2/catch.hpp>

#include "http/range.hpp"

using gw::http::byte_range;
using gw::http::parse_range;
using gw::http::range_kind;

namespace {

byte_range satisfied(std::string_view header, std::uint64_t total) {
  const auto r = parse_range(header, total);
  REQUIRE(r.kind == range_kind::satisfiable);
  return r.range;
}

range_kind kind(std::string_view header, std::uint64_t total) {
  return parse_range(header, total).kind;
}

}  // namespace

TEST_CASE("Range: bytes=X-Y", "[range]") {
  CHECK(satisfied("bytes=0-1023", 5000) == byte_range{0, 1023});
  CHECK(satisfied("bytes=1024-2047", 5000) == byte_range{1024, 2047});
  CHECK(satisfied("bytes=0-0", 1) == byte_range{0, 0});
  CHECK(satisfied("bytes=4999-4999", 5000) == byte_range{4999, 4999});
  // Last beyond the end is clamped (RFC 9110 §14.1.2).
  CHECK(satisfied("bytes=4096-8191", 5000) == byte_range{4096, 4999});
  CHECK(satisfied("bytes=0-18446744073709551615", 10) == byte_range{0, 9});
  CHECK(satisfied("bytes=0-1023", 5000).size() == 1024);
}

TEST_CASE("Range: bytes=X-", "[range]") {
  CHECK(satisfied("bytes=0-", 5000) == byte_range{0, 4999});
  CHECK(satisfied("bytes=4096-", 5000) == byte_range{4096, 4999});
  CHECK(satisfied("bytes=4999-", 5000) == byte_range{4999, 4999});
}

TEST_CASE("Range: bytes=-Y", "[range]") {
  CHECK(satisfied("bytes=-500", 5000) == byte_range{4500, 4999});
  CHECK(satisfied("bytes=-1", 5000) == byte_range{4999, 4999});
  CHECK(satisfied("bytes=-5000", 5000) == byte_range{0, 4999});
  // A suffix longer than the content selects all of it.
  CHECK(satisfied("bytes=-9999", 5000) == byte_range{0, 4999});
  CHECK(kind("bytes=-0", 5000) == range_kind::unsatisfiable);
}

TEST_CASE("A first byte at or beyond the end is unsatisfiable", "[range]") {
  CHECK(kind("bytes=5000-", 5000) == range_kind::unsatisfiable);
  CHECK(kind("bytes=5000-6000", 5000) == range_kind::unsatisfiable);
  CHECK(kind("bytes=1025-2048", 1025) == range_kind::unsatisfiable);
  CHECK(satisfied("bytes=1024-2047", 1025) == byte_range{1024, 1024});
}

TEST_CASE("Every range of empty content is unsatisfiable", "[range]") {
  CHECK(kind("bytes=0-", 0) == range_kind::unsatisfiable);
  CHECK(kind("bytes=0-0", 0) == range_kind::unsatisfiable);
  CHECK(kind("bytes=-1", 0) == range_kind::unsatisfiable);
  CHECK(kind("bytes=-0", 0) == range_kind::unsatisfiable);
}

TEST_CASE("Malformed Range headers are invalid (ignored by the server)", "[range]") {
  for (const char* bad :
       {"", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-4", "bytes=1-2-3", "items=0-1",
        "bytes=0-1,3-4", "bytes=+1-2", "bytes=0x1-2", "bytes=99999999999999999999-", "bytes 0-1"}) {
    INFO(bad);
    CHECK(kind(bad, 5000) == range_kind::invalid);
  }
}

TEST_CASE("Range unit and surrounding whitespace are tolerated", "[range]") {
  CHECK(satisfied("  Bytes=0-9 ", 100) == byte_range{0, 9});
  CHECK(satisfied("BYTES= 10-19", 100) == byte_range{10, 19});
}

TEST_CASE("format_range and Content-Range formatting", "[range]") {
  CHECK(gw::http::format_range({0, 1023}) == "bytes=0-1023");
  CHECK(gw::http::format_content_range({0, 1023}, 5000) == "bytes 0-1023/5000");
  CHECK(gw::http::format_unsatisfied_range(5000) == "bytes */5000");
  CHECK(gw::http::format_unsatisfied_range(0) == "bytes */0");
}

TEST_CASE("Content-Range round trip and edges", "[range]") {
  using gw::http::content_range;
  using gw::http::parse_content_range;
  for (const auto& [r, total] : std::vector<std::pair<byte_range, std::uint64_t>>{
           {{0, 0}, 1}, {{0, 1023}, 5000}, {{4096, 4999}, 5000}, {{1024, 1024}, 1025}}) {
    const auto parsed = parse_content_range(gw::http::format_content_range(r, total));
    REQUIRE(parsed.has_value());
    CHECK(*parsed == content_range{r, total});
  }
  CHECK(parse_content_range("bytes */5000").value() == content_range{std::nullopt, 5000});
  CHECK(parse_content_range("bytes 0-9/*").value() ==
        content_range{byte_range{0, 9}, std::nullopt});
  for (const char* bad : {"", "bytes", "bytes 0-9", "bytes 9-0/10", "bytes 0-10/10", "bytes */*",
                          "items 0-1/2", "bytes a-b/c", "bytes 0-/10", "bytes -1/10"}) {
    INFO(bad);
    CHECK(parse_content_range(bad).error() == gw::http::error::bad_content_range);
  }
}
