#include "upstream/base_url.hpp"

#include <algorithm>
#include <cctype>

#include <boost/asio/ip/address.hpp>

#include "base/ascii.hpp"
#include "upstream/error.hpp"

namespace gw::upstream {

namespace {

// RFC 3986 §3.2.2 reg-name, restricted to what DNS names use (no percent-encoding).
bool is_reg_name(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

// RFC 3986 §3.3 path characters; '%' is let through as part of an already-encoded prefix.
bool is_path(std::string_view path) {
  static constexpr std::string_view extra = "/-._~!$&'()*+,;=:@%";
  return std::all_of(path.begin(), path.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

boost::system::result<std::uint16_t> parse_port(std::string_view digits) {
  if (digits.empty() || digits.size() > 5) return error::bad_url;
  unsigned value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return error::bad_url;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return error::bad_url;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::string base_url::host_field() const {
  std::string field = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) field += ":" + std::to_string(port);
  return field;
}

bool base_url::host_is_address() const {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

boost::system::result<base_url> parse_base_url(std::string_view text) {
  base_url url;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return error::bad_url;
  const auto scheme = text.substr(0, scheme_end);
  if (base::iequals(scheme, "https")) {
    url.tls = true;
    url.port = 443;
  } else if (!base::iequals(scheme, "http")) {
    return error::bad_url;
  }
  text.remove_prefix(scheme_end + 3);

  const auto authority_end = std::min(text.find('/'), text.size());
  auto authority = text.substr(0, authority_end);
  auto path = text.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return error::bad_url;

  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return error::bad_url;
    host = authority.substr(1, close - 1);
    const auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return error::bad_url;
      has_port = true;
      port = rest.substr(1);
    }
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return error::bad_url;
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port = authority.substr(colon + 1);
    }
    if (!is_reg_name(host)) return error::bad_url;
  }
  if (has_port) {
    auto parsed = parse_port(port);
    if (!parsed) return parsed.error();
    url.port = *parsed;
  }
  url.host = std::string(host);

  if (!is_path(path)) return error::bad_url;
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  url.prefix = std::string(path);
  return url;
}

}  // namespace gw::upstream
