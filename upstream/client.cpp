#include "upstream/client.hpp"

#include <algorithm>
#include <cctype>

namespace gw::upstream {

std::optional<std::string_view> response::find_header(std::string_view name) const {
  // RFC 9110 §5.1: field names are case-insensitive.
  const auto same = [name](const header& h) {
    return h.name.size() == name.size() &&
           std::equal(h.name.begin(), h.name.end(), name.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) ==
                    std::tolower(static_cast<unsigned char>(b));
           });
  };
  const auto it = std::find_if(headers.begin(), headers.end(), same);
  if (it == headers.end()) return std::nullopt;
  return std::string_view(it->value);
}

}  // namespace gw::upstream
