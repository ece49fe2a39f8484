#include "gateway/coap/link_format.hpp"

#include <algorithm>
#include <string_view>

namespace gw::coap {

namespace {

bool is_cardinal(std::string_view v) {
  return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_integer_attribute(std::string_view name) {
  return name == "ct" || name == "sz";
}

// RFC 6690 §2 takes quoted-string from RFC 2616 §2.2: '"' and '\' need a quoted-pair.
void append_quoted(std::string& out, std::string_view v) {
  out += '"';
  for (const char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

}  // namespace

std::string serialize(std::span<const link> links) {
  std::string out;
  for (const link& l : links) {
    if (!out.empty()) out += ',';
    out += '<';
    out += l.target;
    out += '>';
    for (const auto& [name, value] : l.attributes) {
      out += ';';
      out += name;
      if (value.empty()) continue;
      out += '=';
      if (is_integer_attribute(name) && is_cardinal(value)) {
        out += value;
      } else {
        append_quoted(out, value);
      }
    }
  }
  return out;
}

}  // namespace gw::coap
