// CBOR <-> JSON: the RFC 8949 Appendix A vectors, the encoder's choice of heads and float widths,
// and every refusal of the decoder with the offset it reports.
#include "translate/cbor_json.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "tests/unit/translate/cbor_test_support.hpp"

namespace gw::translate {
namespace {

using test::from_hex;
using test::same_document;
using test::to_hex;

json load_appendix_a() {
  const char* dir = std::getenv("GW_TESTDATA");
  REQUIRE(dir != nullptr);
  std::ifstream file(std::string(dir) + "/cbor-rfc8949-appendix-a.json");
  REQUIRE(file.good());
  return json::parse(file);
}

// What the decoder must give where it differs from, or goes beyond, the vector's "decoded":
// either a document or an error at offset 0 with this message.
struct expectation {
  std::optional<json> document;
  std::string error;
};

expectation doc(json j) {
  return {std::move(j), {}};
}
expectation err(std::string message) {
  return {std::nullopt, std::move(message)};
}

const std::map<std::string, expectation>& appendix_a_expectations() {
  static const std::map<std::string, expectation> table = {
      // Bignums (tag 2, 3): the file writes them as JSON numbers, which nlohmann can only read
      // as a rounded double. RFC 8949 §6.1 turns them into base64url text, with "~" for tag 3.
      {"c249010000000000000000", doc("AQAAAAAAAAAA")},
      {"c349010000000000000000", doc("~AQAAAAAAAAAA")},
      // -2^64 does not fit in int64, the widest signed integer a JSON value holds here.
      {"3bffffffffffffffff", err("integer out of range")},
      // Entries with only a diagnostic notation.
      {"f97c00", err("Infinity is not valid in JSON")},
      {"f97e00", err("NaN is not valid in JSON")},
      {"f9fc00", err("Infinity is not valid in JSON")},
      {"fa7f800000", err("Infinity is not valid in JSON")},
      {"fa7fc00000", err("NaN is not valid in JSON")},
      {"faff800000", err("Infinity is not valid in JSON")},
      {"fb7ff0000000000000", err("Infinity is not valid in JSON")},
      {"fb7ff8000000000000", err("NaN is not valid in JSON")},
      {"fbfff0000000000000", err("Infinity is not valid in JSON")},
      {"f7", doc(nullptr)},
      {"f0", err("unsupported simple value")},
      // The appendix still lists simple(24) as f818, but §3.3 makes a two-byte simple value
      // below 32 not well-formed.
      {"f818", err("invalid simple value encoding")},
      {"f8ff", err("unsupported simple value")},
      {"c074323031332d30332d32315432303a30343a30305a", doc("2013-03-21T20:04:00Z")},
      {"c11a514b67b0", doc(1363896240u)},
      {"c1fb41d452d9ec200000", doc(1363896240.5)},
      {"d74401020304", doc("AQIDBA")},  // tag 23 is only a hint; the tag is dropped
      {"d818456449455446", doc("ZElFVEY")},
      {"d82076687474703a2f2f7777772e6578616d706c652e636f6d", doc("http://www.example.com")},
      {"40", doc("")},
      {"4401020304", doc("AQIDBA")},
      {"a201020304", {std::nullopt, "map key is not a text string"}},
      {"5f42010243030405ff", doc("AQIDBAU")},
  };
  return table;
}

TEST_CASE("cbor_to_json converts every RFC 8949 Appendix A vector") {
  const json vectors = load_appendix_a();
  REQUIRE(vectors.size() >= 80);
  std::size_t covered = 0;
  for (const auto& vector : vectors) {
    const std::string hex = vector.at("hex");
    INFO("vector " << hex);
    const auto result = cbor_to_json(from_hex(hex));
    const auto special = appendix_a_expectations().find(hex);
    if (special != appendix_a_expectations().end()) {
      ++covered;
      const expectation& want = special->second;
      if (want.document) {
        REQUIRE(result.has_value());
        CHECK(same_document(*result, *want.document));
      } else {
        REQUIRE(result.has_error());
        const std::size_t offset = hex == "a201020304" ? 1 : 0;
        CHECK(result.error().offset == offset);
        CHECK(result.error().message == want.error);
      }
      continue;
    }
    // Every vector without a "decoded" value must have an entry in the table above.
    REQUIRE(vector.contains("decoded"));
    REQUIRE(result.has_value());
    INFO("got " << result->dump());
    // Exact doubles: the file's decimal forms all read back to the encoded binary value.
    CHECK(same_document(*result, vector.at("decoded")));
  }
  CHECK(covered == appendix_a_expectations().size());
}

TEST_CASE("json_to_cbor reproduces the Appendix A round-trip vectors") {
  // Exceptions: the bignum vectors (and -2^64) have no exact JSON form here; see above.
  // Vectors marked roundtrip false use indefinite lengths or non-preferred float widths.
  for (const auto& vector : load_appendix_a()) {
    const std::string hex = vector.at("hex");
    if (!vector.at("roundtrip").get<bool>() || !vector.contains("decoded")) continue;
    if (appendix_a_expectations().count(hex) != 0) continue;
    INFO("vector " << hex);
    CHECK(to_hex(json_to_cbor(vector.at("decoded"))) == hex);
  }
}

TEST_CASE("json_to_cbor writes integers with the shortest head") {
  const std::vector<std::pair<json, std::string>> table = {
      {0, "00"},
      {23, "17"},
      {24, "1818"},
      {255, "18ff"},
      {256, "190100"},
      {65535, "19ffff"},
      {65536, "1a00010000"},
      {4294967295u, "1affffffff"},
      {4294967296u, "1b0000000100000000"},
      {std::numeric_limits<std::uint64_t>::max(), "1bffffffffffffffff"},
      {std::numeric_limits<std::int64_t>::max(), "1b7fffffffffffffff"},
      {-1, "20"},
      {-24, "37"},
      {-25, "3818"},
      {-256, "38ff"},
      {-257, "390100"},
      {-65537, "3a00010000"},
      {std::numeric_limits<std::int64_t>::min(), "3b7fffffffffffffff"},
  };
  for (const auto& [value, hex] : table) {
    INFO(value.dump());
    CHECK(to_hex(json_to_cbor(value)) == hex);
    const auto back = cbor_to_json(from_hex(hex));
    REQUIRE(back.has_value());
    CHECK(same_document(*back, value));
  }
}

TEST_CASE("json_to_cbor writes the shortest float that holds the value exactly") {
  const std::vector<std::pair<double, std::string>> table = {
      {0.0, "f90000"},
      {-0.0, "f98000"},
      {1.0, "f93c00"},
      {-2.0, "f9c000"},
      {65504.0, "f97bff"},
      {0x1p-24, "f90001"},      // smallest half subnormal
      {3 * 0x1p-24, "f90003"},  // subnormal with two bits: libcbor 0.8's own helper gets it wrong
      {0x3ffp-24, "f903ff"},    // largest half subnormal
      {0x1p-14, "f90400"},      // smallest half normal
      {1.0009765625, "f93c01"},
      {0x1p-25, "fa33000000"},        // below the half range
      {65505.0, "fa477fe100"},        // above the half range
      {1.00048828125, "fa3f801000"},  // needs 12 significand bits
      {100000.0, "fa47c35000"},
      {0x1p-149, "fa00000001"},  // smallest single subnormal
      {3.4028234663852886e+38, "fa7f7fffff"},
      {1.1, "fb3ff199999999999a"},
      {1e39, "fb48078287f49c4a1d"},  // above the single range
      {0x1p-1074, "fb0000000000000001"},
  };
  for (const auto& [value, hex] : table) {
    INFO(value);
    CHECK(to_hex(json_to_cbor(value)) == hex);
    const auto back = cbor_to_json(from_hex(hex));
    REQUIRE(back.has_value());
    CHECK(same_document(*back, json(value)));
  }
}

TEST_CASE("json_to_cbor writes non-finite numbers as null, like JSON text") {
  CHECK(to_hex(json_to_cbor(std::numeric_limits<double>::quiet_NaN())) == "f6");
  CHECK(to_hex(json_to_cbor(std::numeric_limits<double>::infinity())) == "f6");
  CHECK(to_hex(json_to_cbor(-std::numeric_limits<double>::infinity())) == "f6");
}

TEST_CASE("json_to_cbor keeps key order and writes definite lengths") {
  const json document = json::parse(R"({"z": [true, false, null], "a": {"": "é"}, "m": []})");
  CHECK(to_hex(json_to_cbor(document)) ==
        "a3"
        "617a"
        "83f5f4f6"
        "6161"
        "a1"
        "60"
        "62c3a9"
        "616d"
        "80");
}

TEST_CASE("json_to_cbor writes nlohmann binary values as byte strings") {
  const json value = json::binary({1, 2, 3});
  CHECK(to_hex(json_to_cbor(value)) == "43010203");
}

TEST_CASE("cbor_to_json converts byte strings to base64url without padding") {
  CHECK(cbor_to_json(from_hex("41 fb"))->get<std::string>() == "-w");
  CHECK(cbor_to_json(from_hex("42 fb ff"))->get<std::string>() == "-_8");
  CHECK(cbor_to_json(from_hex("43 fb ff 00"))->get<std::string>() == "-_8A");
  CHECK(cbor_to_json(from_hex("5f 41 fb 40 42 ff 00 ff"))->get<std::string>() == "-_8A");
  // RFC 8949 §6.1: a negative bignum keeps its sign as a "~" prefix; other tags just vanish.
  CHECK(cbor_to_json(from_hex("c3 41 00"))->get<std::string>() == "~AA");
  CHECK(cbor_to_json(from_hex("c2 41 00"))->get<std::string>() == "AA");
  CHECK(cbor_to_json(from_hex("c3 c2 41 00"))->get<std::string>() == "AA");
  CHECK(cbor_to_json(from_hex("c2 c3 41 00"))->get<std::string>() == "~AA");
  CHECK(cbor_to_json(from_hex("c3 81 41 00"))->dump() == R"(["AA"])");
}

TEST_CASE("cbor_to_json accepts what JSON can hold") {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"3b 7fffffffffffffff", "-9223372036854775808"},
      {"1b ffffffffffffffff", "18446744073709551615"},
      {"f9 3c00", "1.0"},  // an integral float stays a float
      {"fa 3f800000", "1.0"},
      {"18 00", "0"},  // non-preferred heads are well-formed
      {"7f 62 c3a9 60 61 61 ff", R"("éa")"},
      {"bf 61 61 01 ff", R"({"a":1})"},
      {"a1 c0 61 6b 00", R"({"k":0})"},  // tag around a key
      {"a2 61 62 01 61 61 02", R"({"b":1,"a":2})"},
      {"64 f0908591", R"("𐅑")"},
  };
  for (const auto& [hex, text] : table) {
    INFO(hex);
    const auto result = cbor_to_json(from_hex(hex));
    REQUIRE(result.has_value());
    CHECK(result->dump() == text);
  }
}

TEST_CASE("cbor_to_json refuses malformed and unrepresentable input, naming the offset") {
  struct row {
    std::string hex;
    std::size_t offset;
    std::string message;
  };
  const std::vector<row> table = {
      {"", 0, "empty input"},
      {"01 02", 1, "trailing bytes after the item"},
      {"a1 61 61 01 00", 4, "trailing bytes after the item"},
      {"19 03", 0, "unexpected end of input"},
      {"83 01 02", 3, "unexpected end of input"},
      {"9f 01", 2, "unexpected end of input"},
      {"bf 61 61", 3, "unexpected end of input"},
      {"62 61", 0, "truncated text string"},
      {"82 01 45 00", 2, "truncated byte string"},
      {"5f 41 00", 3, "unexpected end of input"},
      {"5b ffffffffffffffff 00", 0, "truncated byte string"},
      {"7b 0000000100000000 00", 0, "truncated text string"},
      {"9b ffffffffffffffff 00 00", 11, "unexpected end of input"},
      {"bb ffffffffffffffff 61 61 00", 12, "unexpected end of input"},
      {"1c", 0, "reserved additional information"},
      {"82 00 5e", 2, "reserved additional information"},
      {"1f", 0, "indefinite length on an integer"},
      {"3f", 0, "indefinite length on an integer"},
      {"df 00", 0, "indefinite length on a tag"},
      {"ff", 0, "unexpected break"},
      {"82 01 ff", 2, "unexpected break"},
      {"bf 61 61 ff", 3, "unexpected break"},
      {"5f 41 00 61 61 ff", 3, "invalid chunk in indefinite-length string"},
      {"5f 5f ff ff", 1, "invalid chunk in indefinite-length string"},
      {"7f 00 ff", 1, "invalid chunk in indefinite-length string"},
      {"3b 8000000000000000", 0, "integer out of range"},
      {"82 00 3b ffffffffffffffff", 2, "integer out of range"},
      {"82 01 f9 7c00", 2, "Infinity is not valid in JSON"},
      {"a1 61 78 fb 7ff8000000000001", 3, "NaN is not valid in JSON"},
      {"f3", 0, "unsupported simple value"},
      {"f8 20", 0, "unsupported simple value"},
      {"f8 10", 0, "invalid simple value encoding"},
      {"a1 01 02", 1, "map key is not a text string"},
      {"a1 41 61 02", 1, "map key is not a text string"},
      {"a1 80 02", 1, "map key is not a text string"},
      {"82 00 a1 c1 01 02", 3, "map key is not a text string"},
      {"a2 61 61 01 61 61 02", 4, "duplicate map key"},
      {"bf 61 61 01 7f 61 61 ff 02 ff", 4, "duplicate map key"},
      {"62 c3 28", 0, "invalid UTF-8 in text string"},
      {"62 c0 80", 0, "invalid UTF-8 in text string"},        // overlong NUL
      {"63 ed a0 80", 0, "invalid UTF-8 in text string"},     // surrogate
      {"64 f4 90 80 80", 0, "invalid UTF-8 in text string"},  // above U+10FFFF
      {"61 ff", 0, "invalid UTF-8 in text string"},
      {"7f 61 c3 61 a9 ff", 1, "invalid UTF-8 in text string"},  // a chunk may not split it
  };
  for (const auto& [hex, offset, message] : table) {
    INFO(hex);
    const auto result = cbor_to_json(from_hex(hex));
    REQUIRE(result.has_error());
    CHECK(result.error().offset == offset);
    CHECK(result.error().message == message);
  }
}

TEST_CASE("cbor_to_json stops nesting at 64 levels of arrays and maps") {
  const auto nested = [](std::size_t levels, const std::string& open) {
    std::string hex;
    for (std::size_t i = 0; i < levels; ++i) hex += open;
    return hex + "00";
  };
  CHECK(cbor_to_json(from_hex(nested(64, "81"))).has_value());
  CHECK(cbor_to_json(from_hex(nested(64, "a1 61 6b"))).has_value());
  CHECK(cbor_to_json(from_hex(nested(64, "9f"))).has_error());  // no breaks: truncated

  const auto too_deep = cbor_to_json(from_hex(nested(65, "81")));
  REQUIRE(too_deep.has_error());
  CHECK(too_deep.error().to_string() == "offset 64: nesting deeper than 64");

  const auto too_deep_map = cbor_to_json(from_hex(nested(65, "a1 61 6b")));
  REQUIRE(too_deep_map.has_error());
  CHECK(too_deep_map.error().offset == 64 * 3);

  // Tags do not nest containers: a long chain of them is fine and costs no recursion.
  CHECK(cbor_to_json(from_hex(nested(100000, "c1"))).value() == json(0));
}

TEST_CASE("cbor_to_json keeps the order of a large map") {
  std::vector<std::uint8_t> bytes = {0xb9, 0x4e, 0x20};  // map of 20000 entries
  for (unsigned i = 0; i < 20000; ++i) {
    const std::string key = std::to_string(19999 - i);
    bytes.push_back(static_cast<std::uint8_t>(0x60 + key.size()));
    bytes.insert(bytes.end(), key.begin(), key.end());
    bytes.push_back(0xf5);
  }
  const auto result = cbor_to_json(bytes);
  REQUIRE(result.has_value());
  REQUIRE(result->size() == 20000);
  CHECK(result->begin().key() == "19999");
  CHECK((--result->end()).key() == "0");
}

TEST_CASE("cbor_error renders as the diagnostic payload") {
  CHECK(cbor_error{7, "duplicate map key"}.to_string() == "offset 7: duplicate map key");
  CHECK_THROWS_AS(cbor_to_json(from_hex("ff")).value(), std::invalid_argument);
}

}  // namespace
}  // namespace gw::translate
