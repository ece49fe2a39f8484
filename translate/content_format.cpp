#include "translate/content_format.hpp"

#include <array>
#include <string>

#include "base/ascii.hpp"

namespace gw::translate::cf {
namespace {

struct row {
  std::string_view media_type;
  std::uint16_t format;
};

constexpr std::array<row, 7> table = {{
    {"text/plain", text_plain},
    {"application/link-format", link_format},
    {"application/xml", xml},
    {"text/xml", xml},
    {"application/octet-stream", octet_stream},
    {"application/json", json},
    {"application/cbor", cbor},
}};

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return base::to_lower(s);
}

}  // namespace

std::optional<std::uint16_t> from_media_type(std::string_view content_type) {
  auto semicolon = content_type.find(';');
  const auto type = lower_trimmed(content_type.substr(0, semicolon));
  // text/plain is Content-Format 0 only in UTF-8 (or its subset US-ASCII, or unspecified).
  std::string_view params =
      semicolon == std::string_view::npos ? std::string_view{} : content_type.substr(semicolon + 1);
  while (!params.empty()) {
    auto next = params.find(';');
    auto param = params.substr(0, next);
    params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
    auto eq = param.find('=');
    if (eq == std::string_view::npos || lower_trimmed(param.substr(0, eq)) != "charset") continue;
    auto charset = lower_trimmed(param.substr(eq + 1));
    if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"')
      charset = charset.substr(1, charset.size() - 2);
    if (type == "text/plain" && charset != "utf-8" && charset != "us-ascii") return std::nullopt;
  }
  for (const auto& r : table)
    if (r.media_type == type) return r.format;
  return std::nullopt;
}

}  // namespace gw::translate::cf
