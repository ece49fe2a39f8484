#include "http/form.hpp"

namespace gw::http {
namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

boost::system::result<std::string> decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return make_error_code(error::bad_percent_escape);
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return make_error_code(error::bad_percent_escape);
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string percent_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (is_unreserved(byte)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex_digits[byte >> 4]);
      out.push_back(hex_digits[byte & 0x0f]);
    }
  }
  return out;
}

boost::system::result<std::string> percent_decode(std::string_view text) {
  return decode(text, false);
}

boost::system::result<std::string> form_component_decode(std::string_view text) {
  return decode(text, true);
}

std::string form_encode(const form_pairs& pairs) {
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (!out.empty()) out.push_back('&');
    out += percent_encode(key);
    out.push_back('=');
    out += percent_encode(value);
  }
  return out;
}

boost::system::result<form_pairs> form_decode(std::string_view body) {
  form_pairs pairs;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const auto segment = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (segment.empty()) continue;
    const auto eq = segment.find('=');
    auto key = form_component_decode(segment.substr(0, eq));
    if (!key) return key.error();
    std::string value;
    if (eq != std::string_view::npos) {
      auto decoded = form_component_decode(segment.substr(eq + 1));
      if (!decoded) return decoded.error();
      value = std::move(*decoded);
    }
    pairs.emplace_back(std::move(*key), std::move(value));
  }
  return pairs;
}

std::string alias_query(std::span<const std::string> aliases) {
  std::string out;
  for (const auto& alias : aliases) {
    if (!out.empty()) out.push_back('&');
    out += percent_encode(alias);
  }
  return out;
}

}  // namespace gw::http
