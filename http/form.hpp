#pragma once
// Percent-encoding (RFC 3986 §2.1) and application/x-www-form-urlencoded bodies, as the One
// Platform data interface uses them: `a1=v1&a2=v2` for writes and answers, `a1&a2` (bare aliases)
// for the read query. Decoding never throws: a bad escape is an error value.
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>

#include "http/error.hpp"

namespace gw::http {

using form_pairs = std::vector<std::pair<std::string, std::string>>;

// Keeps the RFC 3986 §2.3 unreserved characters and encodes every other byte as %XX (upper-case
// hex, §2.1), so a space becomes %20 and '+', '=', '&' never appear unescaped.
std::string percent_encode(std::string_view text);

// Decodes %XX escapes; '+' stays '+'. Fails with error::bad_percent_escape on '%' not followed
// by two hex digits.
boost::system::result<std::string> percent_decode(std::string_view text);

// One component of a form body or query: like percent_decode, and '+' means a space
// (WHATWG URL "application/x-www-form-urlencoded parser"); "%20" is accepted too.
boost::system::result<std::string> form_component_decode(std::string_view text);

// "k1=v1&k2=v2", every key and value percent-encoded.
std::string form_encode(const form_pairs& pairs);

// Splits on '&', then on the first '='. Empty segments are skipped; a segment without '='
// gives its key with an empty value. Order and duplicates are kept.
boost::system::result<form_pairs> form_decode(std::string_view body);

// The query of a data-interface read: bare percent-encoded aliases joined by '&' ("a1&a2"),
// without a leading '?'.
std::string alias_query(std::span<const std::string> aliases);

}  // namespace gw::http
