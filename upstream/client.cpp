#include "upstream/client.hpp"

#include <algorithm>

#include "base/ascii.hpp"

namespace gw::upstream {

std::optional<std::string_view> response::find_header(std::string_view name) const {
  // RFC 9110 §5.1: field names are case-insensitive.
  const auto same = [name](const header& h) { return base::iequals(h.name, name); };
  const auto it = std::find_if(headers.begin(), headers.end(), same);
  if (it == headers.end()) return std::nullopt;
  return std::string_view(it->value);
}

}  // namespace gw::upstream
