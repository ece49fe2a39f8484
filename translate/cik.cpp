#include "translate/cik.hpp"

namespace gw::translate {

namespace {

// The bare CIK: 40 hex characters (any case) or 20 bytes.
std::optional<std::string> bare_cik(std::string_view q) {
  static constexpr char hex[] = "0123456789abcdef";
  if (q.size() == 40) {
    std::string out(q);
    for (char& c : out) {
      if (c >= 'A' && c <= 'F')
        c = static_cast<char>(c - 'A' + 'a');
      else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
        return std::nullopt;
    }
    return out;
  }
  if (q.size() == 20) {
    std::string out(40, '0');
    for (std::size_t i = 0; i < q.size(); ++i) {
      const auto c = static_cast<unsigned char>(q[i]);
      out[2 * i] = hex[c >> 4];
      out[2 * i + 1] = hex[c & 0xf];
    }
    return out;
  }
  return std::nullopt;
}

bool has_cik_key(std::string_view q) {
  if (q.size() < 4 || q[3] != '=') return false;
  for (std::size_t i = 0; i < 3; ++i)
    if ((q[i] | 0x20) != "cik"[i]) return false;
  return true;
}

}  // namespace

std::optional<std::string> decode_cik(std::string_view q) {
  // The bare forms first: a 20-byte binary CIK may end in '=' or start with "cik=".
  if (auto cik = bare_cik(q)) return cik;
  if (has_cik_key(q)) return bare_cik(q.substr(4));
  if (!q.empty() && q.back() == '=') return bare_cik(q.substr(0, q.size() - 1));
  return std::nullopt;
}

std::string_view query_alias(std::string_view item) {
  if (!item.empty() && item.back() == '=') item.remove_suffix(1);
  return item;
}

}  // namespace gw::translate
