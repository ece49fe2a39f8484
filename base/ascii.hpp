#pragma once
// ASCII case folding for protocol tokens: HTTP field names and schemes (RFC 9110 §5.1, RFC 3986
// §3.1), media types and charsets (RFC 9110 §8.3.1), range units (RFC 9110 §14.1). Those are
// ASCII by definition, so the C locale's tolower (which a process may change) is not wanted:
// bytes outside A-Z, UTF-8 included, are left as they are.
#include <cstddef>
#include <string>
#include <string_view>

namespace gw::base {

constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

}  // namespace gw::base
