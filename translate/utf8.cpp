#include "translate/utf8.hpp"

namespace gw::translate {

bool is_valid_utf8(std::span<const std::uint8_t> text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const std::uint8_t lead = text[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint8_t low = 0x80;  // bounds of the second byte
    std::uint8_t high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
    } else if (lead == 0xe0) {
      length = 3, low = 0xa0;
    } else if (lead == 0xed) {
      length = 3, high = 0x9f;
    } else if (lead >= 0xe1 && lead <= 0xef) {
      length = 3;
    } else if (lead == 0xf0) {
      length = 4, low = 0x90;
    } else if (lead >= 0xf1 && lead <= 0xf3) {
      length = 4;
    } else if (lead == 0xf4) {
      length = 4, high = 0x8f;
    } else {
      return false;
    }
    if (length > text.size() - i) return false;
    if (text[i + 1] < low || text[i + 1] > high) return false;
    for (std::size_t k = 2; k < length; ++k) {
      if ((text[i + k] & 0xc0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace gw::translate
