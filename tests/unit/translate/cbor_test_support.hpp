#pragma once
// Helpers shared by the CBOR <-> JSON tests: hex conversion and a document equality stricter
// than nlohmann's operator== (which finds 1 == 1.0 and 0.0 == -0.0 equal).
#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "translate/cbor_json.hpp"

namespace gw::translate::test {

// Spaces are ignored, so tables can group bytes by item: "a1 61 61 01".
inline std::vector<std::uint8_t> from_hex(std::string_view text) {
  const auto nibble = [](char c) -> std::uint8_t {
    if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<std::uint8_t>(c - 'a' + 10);
    return static_cast<std::uint8_t>(c - 'A' + 10);
  };
  std::string hex;
  for (const char c : text) {
    if (c != ' ') hex += c;
  }
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

inline std::string to_hex(const std::vector<std::uint8_t>& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const auto b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

// Same structure, same key order, integers equal as integers, floats equal bit for bit (so the
// sign of zero counts), and an integer never equal to a float. Whether a non-negative integer is
// held as int64 or uint64 is not part of the document: CBOR has one major type for both.
inline bool same_document(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_number_float() != b.is_number_float()) return false;
    if (a.is_number_float()) {
      return std::bit_cast<std::uint64_t>(a.get<double>()) ==
             std::bit_cast<std::uint64_t>(b.get<double>());
    }
    return a == b;
  }
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!same_document(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto x = a.begin(), y = b.begin(); x != a.end(); ++x, ++y) {
      if (x.key() != y.key() || !same_document(x.value(), y.value())) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace gw::translate::test
