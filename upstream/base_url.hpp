#pragma once
// The configured upstream origin: http(s)://host[:port][/prefix], parsed once at start-up.
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace gw::upstream {

struct base_url {
  bool tls = false;
  std::string host;  // without brackets for IPv6 literals; what is resolved, sent as SNI, verified
  std::uint16_t port = 80;
  std::string prefix;  // "" or "/seg/ments" without a trailing slash; prepended to every target

  // RFC 9112 §3.2: the Host field is the authority; the port only when not the scheme's default.
  std::string host_field() const;
  // Whether host is an IP literal (no SNI for those, RFC 6066 §3).
  bool host_is_address() const;
};

// Accepts "http://127.0.0.1:8080", "https://m2.exosite.com", "https://[::1]:8443/api/". Rejects
// other schemes, user info, empty hosts or ports, ports outside 1..65535, queries, fragments and
// whitespace or control characters; error::bad_url.
boost::system::result<base_url> parse_base_url(std::string_view text);

}  // namespace gw::upstream
