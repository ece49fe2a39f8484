#pragma once
// Hex <-> bytes for the byte-vector tables of the codec tests.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "gateway/coap/message.hpp"

namespace gw::coap::test {

// Spaces are ignored so that tables can group fields: "40 01 00f6".
inline bytes from_hex(std::string_view hex) {
  auto nibble = [](char c) -> std::uint8_t {
    if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<std::uint8_t>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<std::uint8_t>(c - 'A' + 10);
    throw std::invalid_argument("bad hex digit in test vector");
  };
  bytes out;
  int high = -1;
  for (const char c : hex) {
    if (c == ' ') continue;
    if (high < 0) {
      high = nibble(c);
    } else {
      out.push_back(static_cast<std::uint8_t>((high << 4) | nibble(c)));
      high = -1;
    }
  }
  if (high >= 0) throw std::invalid_argument("odd number of hex digits in test vector");
  return out;
}

inline std::string to_hex(const bytes& b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t v : b) {
    out += digits[v >> 4];
    out += digits[v & 0xf];
  }
  return out;
}

inline bytes text(std::string_view s) {
  return bytes(s.begin(), s.end());
}

}  // namespace gw::coap::test
