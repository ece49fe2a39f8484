#include "translate/cik.hpp"

namespace gw::translate {

std::optional<std::string> decode_cik(std::string_view q) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  if (q.size() == 40) {
    out.reserve(40);
    bool all_hex = true;
    for (char c : q) {
      if (c >= '0' && c <= '9') {
        out += c;
      } else if (c >= 'a' && c <= 'f') {
        out += c;
      } else if (c >= 'A' && c <= 'F') {
        out += static_cast<char>(c - 'A' + 'a');
      } else {
        all_hex = false;
        break;
      }
    }
    if (all_hex) return out;
    return std::nullopt;
  }
  if (q.size() == 20) {
    out.reserve(40);
    for (unsigned char c : q) {
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace gw::translate
