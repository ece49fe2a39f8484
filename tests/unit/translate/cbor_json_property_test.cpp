// Properties of CBOR <-> JSON over seeded random documents: JSON -> CBOR -> JSON is identity
// (structure, key order, integer versus float, the sign of zero), the encoding is a function of
// the JSON text, and no prefix or corruption of an encoding makes the decoder crash or accept.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/unit/translate/cbor_test_support.hpp"
#include "translate/cbor_json.hpp"

namespace gw::translate {
namespace {

using test::from_hex;
using test::same_document;
using test::to_hex;

// The value of IEEE 754 binary16 bits, computed independently of the code under test.
double half_value(std::uint16_t bits) {
  const int exponent = bits >> 10 & 0x1f;
  const int fraction = bits & 0x3ff;
  const double magnitude =
      exponent == 0 ? std::ldexp(fraction, -24) : std::ldexp(1024 + fraction, exponent - 25);
  return bits & 0x8000 ? -magnitude : magnitude;
}

class document_generator {
 public:
  explicit document_generator(std::uint64_t seed) : engine_(seed) {}

  // A document nested at most `depth` arrays or objects deep.
  json next(int depth) { return value(depth); }

  // A chain of exactly `depth` containers with a scalar at the bottom.
  json chain(int depth) {
    json inner = scalar();
    for (int i = 0; i < depth; ++i) {
      if (coin()) {
        inner = json::array({std::move(inner), scalar()});
      } else {
        json object = json::object();
        object[text()] = std::move(inner);
        inner = std::move(object);
      }
    }
    return inner;
  }

 private:
  int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(engine_); }
  bool coin() { return pick(0, 1) == 1; }

  json value(int depth) {
    if (depth > 0 && pick(0, 1) == 0) return coin() ? array(depth) : object(depth);
    return scalar();
  }

  json array(int depth) {
    json out = json::array();
    for (int n = pick(0, 4); n > 0; --n) out.push_back(value(depth - 1));
    return out;
  }

  json object(int depth) {
    json out = json::object();
    for (int n = pick(0, 4); n > 0; --n) {
      std::string key = text();
      if (!out.contains(key)) out[key] = value(depth - 1);
    }
    return out;
  }

  json scalar() {
    switch (pick(0, 7)) {
      case 0:
        return nullptr;
      case 1:
        return coin();
      case 2:
        return signed_integer();
      case 3:
        return unsigned_integer();
      case 4:
      case 5:
        return floating();
      default:
        return text();
    }
  }

  std::int64_t signed_integer() {
    constexpr std::int64_t edges[] = {std::numeric_limits<std::int64_t>::min(),
                                      std::numeric_limits<std::int64_t>::max(),
                                      -1,
                                      0,
                                      23,
                                      24,
                                      -24,
                                      -25,
                                      255,
                                      -256,
                                      65535,
                                      -65537,
                                      4294967295,
                                      -4294967296};
    if (pick(0, 3) == 0) return edges[pick(0, std::size(edges) - 1)];
    // Random width, so that every head size is common.
    const auto magnitude = static_cast<std::int64_t>(engine_() >> pick(1, 63));
    return coin() ? magnitude : -magnitude - 1;
  }

  std::uint64_t unsigned_integer() {
    constexpr std::uint64_t edges[] = {
        std::numeric_limits<std::uint64_t>::max(), std::uint64_t{1} << 63, 0, 23, 24, 256};
    if (pick(0, 3) == 0) return edges[pick(0, std::size(edges) - 1)];
    return engine_() >> pick(0, 63);
  }

  double floating() {
    for (;;) {
      double value = 0;
      switch (pick(0, 5)) {
        case 0:  // exactly a half
          value = half_value(static_cast<std::uint16_t>(engine_()));
          break;
        case 1:  // exactly a single
          value = std::bit_cast<float>(static_cast<std::uint32_t>(engine_()));
          break;
        case 2:  // any double
          value = std::bit_cast<double>(engine_());
          break;
        case 3:  // integral, which must stay a float
          value = static_cast<double>(signed_integer());
          break;
        case 4:
          value = coin() ? 0.0 : -0.0;
          break;
        default:  // the decimals that real payloads carry
          value = std::uniform_real_distribution<double>(-1e6, 1e6)(engine_);
          break;
      }
      if (std::isfinite(value)) return value;
    }
  }

  std::string text() {
    std::string out;
    for (int n = pick(0, 8); n > 0; --n) append_utf8(out, code_point());
    return out;
  }

  std::uint32_t code_point() {
    switch (pick(0, 5)) {
      case 0:
        return static_cast<std::uint32_t>(pick(0x00, 0x1f));  // controls, escaped in JSON
      case 1:
        return "\"\\/"[pick(0, 2)];
      case 2:
        return static_cast<std::uint32_t>(pick(0x80, 0x7ff));
      case 3: {
        const auto c = static_cast<std::uint32_t>(pick(0x800, 0xffff));
        return c >= 0xd800 && c <= 0xdfff ? 0xfffd : c;  // surrogates are not characters
      }
      case 4:
        return static_cast<std::uint32_t>(pick(0x10000, 0x10ffff));
      default:
        return static_cast<std::uint32_t>(pick(0x20, 0x7e));
    }
  }

  static void append_utf8(std::string& out, std::uint32_t c) {
    const auto put = [&out](std::uint32_t byte) { out += static_cast<char>(byte); };
    if (c < 0x80) {
      put(c);
    } else if (c < 0x800) {
      put(0xc0 | c >> 6), put(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      put(0xe0 | c >> 12), put(0x80 | (c >> 6 & 0x3f)), put(0x80 | (c & 0x3f));
    } else {
      put(0xf0 | c >> 18), put(0x80 | (c >> 12 & 0x3f)), put(0x80 | (c >> 6 & 0x3f));
      put(0x80 | (c & 0x3f));
    }
  }

  std::mt19937_64 engine_;
};

// Every proper prefix of one encoded item is incomplete (CBOR items delimit themselves).
void check_every_prefix_fails(const std::vector<std::uint8_t>& encoding) {
  for (std::size_t size = 0; size < encoding.size(); ++size) {
    const auto result = cbor_to_json(std::span(encoding).first(size));
    INFO("prefix of " << size << " bytes of " << to_hex(encoding));
    REQUIRE(result.has_error());
    CHECK(result.error().offset <= size);
  }
}

TEST_CASE("JSON -> CBOR -> JSON is identity for random documents") {
  document_generator generate(20240611);
  for (int i = 0; i < 4000; ++i) {
    const json document = i % 10 == 0 ? generate.chain(10) : generate.next(10);
    const auto encoding = json_to_cbor(document);
    const auto decoded = cbor_to_json(encoding);
    INFO("document " << i << ": " << document.dump());
    REQUIRE(decoded.has_value());
    REQUIRE(same_document(*decoded, document));
    // Deterministic: the decoded document encodes to the same bytes...
    REQUIRE(json_to_cbor(*decoded) == encoding);
    // ...and so does the document read back from its JSON text.
    REQUIRE(json_to_cbor(json::parse(document.dump())) == encoding);
    if (i < 300) check_every_prefix_fails(encoding);
  }
}

TEST_CASE("json_to_cbor encodes every finite half as a half, and nothing finer") {
  for (std::uint32_t bits = 0; bits <= 0xffff; ++bits) {
    if ((bits >> 10 & 0x1f) == 0x1f) continue;  // infinities and NaNs
    const double value = half_value(static_cast<std::uint16_t>(bits));
    const std::vector<std::uint8_t> half = {0xf9, static_cast<std::uint8_t>(bits >> 8),
                                            static_cast<std::uint8_t>(bits)};
    INFO("half bits " << bits);
    REQUIRE(json_to_cbor(value) == half);
    const auto back = cbor_to_json(half);
    REQUIRE(back.has_value());
    REQUIRE(same_document(*back, json(value)));
    // The next double up needs more precision than a half (or a single) has.
    if (value != 0) {
      const double neighbour = std::nextafter(value, std::numeric_limits<double>::infinity());
      REQUIRE(json_to_cbor(neighbour).front() == 0xfb);
    }
  }
}

TEST_CASE("json_to_cbor encodes singles that are not halves as singles") {
  std::mt19937_64 engine(7);
  for (int i = 0; i < 20000; ++i) {
    const auto bits = static_cast<std::uint32_t>(engine());
    const float single = std::bit_cast<float>(bits);
    if (!std::isfinite(single)) continue;
    const auto encoding = json_to_cbor(static_cast<double>(single));
    INFO("single bits " << bits);
    if (encoding.front() == 0xf9) continue;  // also a half; covered above
    const std::vector<std::uint8_t> expected = {
        0xfa, static_cast<std::uint8_t>(bits >> 24), static_cast<std::uint8_t>(bits >> 16),
        static_cast<std::uint8_t>(bits >> 8), static_cast<std::uint8_t>(bits)};
    REQUIRE(encoding == expected);
  }
}

TEST_CASE("every truncated prefix of an encoding is refused") {
  const char* encodings[] = {
      "bf6346756ef563416d7421ff", "9f018202039f0405ffff",
      "5f42010243030405ff",       "7f657374726561646d696e67ff",
      "826161bf61626163ff",       "c1fb41d452d9ec200000",
      "a26161016162820203",       "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
      "1bffffffffffffffff",       "3b7fffffffffffffff",
      "c349010000000000000000",   "64f0908591",
  };
  for (const char* hex : encodings) check_every_prefix_fails(from_hex(hex));
}

TEST_CASE("corrupted and random bytes never crash the decoder") {
  document_generator generate(99);
  std::mt19937_64 engine(3);
  const auto check = [](const std::vector<std::uint8_t>& bytes) {
    const auto result = cbor_to_json(bytes);
    if (result.has_error()) {
      REQUIRE(result.error().offset <= bytes.size());
      REQUIRE_FALSE(result.error().message.empty());
      return;
    }
    // Whatever is accepted can be written as JSON text and converts back unchanged.
    REQUIRE_NOTHROW(result->dump());
    const auto again = cbor_to_json(json_to_cbor(*result));
    REQUIRE(again.has_value());
    REQUIRE(same_document(*again, *result));
  };
  for (int i = 0; i < 300; ++i) {
    auto bytes = json_to_cbor(generate.next(4));
    for (std::size_t k = 0; k < bytes.size(); ++k) {
      const std::uint8_t original = bytes[k];
      bytes[k] = static_cast<std::uint8_t>(engine());
      check(bytes);
      bytes[k] = original;
    }
  }
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::uint8_t> bytes(engine() % 16);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(engine());
    check(bytes);
  }
}

}  // namespace
}  // namespace gw::translate
