#include "translate/content_format.hpp"

#include <array>
#include <cctype>
#include <string>

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

}  // namespace

std::optional<std::uint16_t> from_media_type(std::string_view content_type) {
  auto end = content_type.find(';');
  auto type = content_type.substr(0, end);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
  std::string lower;
  for (char c : type) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // text/plain is Content-Format 0 only in UTF-8 (or ASCII, a subset, or unspecified).
  if (lower == "text/plain" && end != std::string_view::npos) {
    std::string params;
    for (char c : content_type.substr(end))
      params += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (params.find("charset") != std::string::npos && params.find("utf-8") == std::string::npos &&
        params.find("us-ascii") == std::string::npos)
      return std::nullopt;
  }
  for (const auto& r : table)
    if (r.media_type == lower) return r.format;
  return std::nullopt;
}

}  // namespace gw::translate::cf
