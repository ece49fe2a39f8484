// coap.dtls.psk_file: the syntax, its escapes and every refusal, with the line named and the
// key never quoted.
#include <catch2/catch.hpp>

#include "gateway/server/psk_table.hpp"

namespace gw::server {
namespace {

using bytes = std::vector<std::uint8_t>;

bytes text_bytes(std::string_view s) {
  return bytes(s.begin(), s.end());
}

TEST_CASE("psk_file: hex and text keys, comments and blank lines", "[server][psk]") {
  auto r = parse_psk_file(
      "# devices of site A\n"
      "\n"
      "sensor-1: hex:00112233445566778899AABBCCDDEEFF\n"
      "  sensor-2 :  text:correct horse battery  \r\n"
      "sensor-3: text:a:b\\c\n");
  REQUIRE(r.errors.empty());
  REQUIRE(r.table.size() == 3);
  CHECK(*r.table.find("sensor-1") == bytes{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                           0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff});
  // Layout spaces go; the key's inner spaces stay; only the identity knows escapes.
  CHECK(*r.table.find("sensor-2") == text_bytes("correct horse battery"));
  CHECK(*r.table.find("sensor-3") == text_bytes("a:b\\c"));
  CHECK(r.table.find("sensor-4") == nullptr);
}

TEST_CASE("psk_file: '\\:' and '\\\\' put ':' and '\\' in an identity", "[server][psk]") {
  auto r = parse_psk_file("urn\\:dev\\:42: text:k1\nback\\\\slash: text:k2\n");
  REQUIRE(r.errors.empty());
  CHECK(*r.table.find("urn:dev:42") == text_bytes("k1"));
  CHECK(*r.table.find("back\\slash") == text_bytes("k2"));
  CHECK(r.table.find("urn") == nullptr);
}

TEST_CASE("psk_file: refusals name the line and never the key", "[server][psk]") {
  struct row {
    std::string text;
    std::string problem;
  };
  const std::vector<row> rows{
      {"no separator here", "expected 'identity: hex:KEY' or 'identity: text:KEY'"},
      {"dev: base64:c2VjcmV0", "key must start with hex: or text:"},
      {"dev: hex:abc", "hex key: odd number of digits"},
      {"dev: hex:zz5ecret", "hex key: not a hex digit"},
      {"dev: text:", "key must be 1 to 64 bytes"},
      {"dev: hex:" + std::string(130, 'a'), "key must be 1 to 64 bytes"},
      {": text:k", "identity must be 1 to 128 bytes"},
      {std::string(129, 'i') + ": text:k", "identity must be 1 to 128 bytes"},
      {"bad\\escape: text:k", "identity: '\\' must be followed by ':' or '\\'"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    auto parsed = parse_psk_file("ok: text:fine\n" + r.text + "\n");
    REQUIRE(parsed.errors.size() == 1);
    CHECK(parsed.errors[0].line == 2);
    CHECK(parsed.errors[0].problem == r.problem);
    CHECK(parsed.errors[0].problem.find("5ecret") == std::string::npos);
  }
}

TEST_CASE("psk_file: an identity listed twice is refused", "[server][psk]") {
  auto r = parse_psk_file("a: text:one\nb: text:two\na: text:three\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].line == 3);
  CHECK(r.errors[0].problem == "identity listed twice");
}

TEST_CASE("psk_table::changed_in: removed and re-keyed identities, not added ones",
          "[server][psk]") {
  auto before = parse_psk_file("keep: text:k\nrekey: text:old\ngone: text:g\n").table;
  auto after = parse_psk_file("keep: text:k\nrekey: text:new\nnew: text:n\n").table;
  CHECK(before.changed_in(after) == std::vector<std::string>{"gone", "rekey"});
  CHECK(after.changed_in(after).empty());
}

}  // namespace
}  // namespace gw::server
