#pragma once
// UTF-8 validation (RFC 3629 §4) for text that devices send: CBOR text strings, Write values.
#include <cstdint>
#include <span>
#include <string_view>

namespace gw::translate {

// No overlong forms, no surrogates, nothing above U+10FFFF. nlohmann's dump() throws on invalid
// UTF-8, so text that passes here can always be written out.
bool is_valid_utf8(std::span<const std::uint8_t> text);
inline bool is_valid_utf8(std::string_view text) {
  return is_valid_utf8(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

}  // namespace gw::translate
