#pragma once
// HTTP-date (RFC 9110 §5.6.7) and the time headers of the One Platform long-poll, which carry
// either an HTTP-date or decimal Unix seconds (If-Modified-Since, Last-Modified).
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "http/error.hpp"

namespace gw::http {

// IMF-fixdate, the only form a sender may generate: "Sun, 06 Nov 1994 08:49:37 GMT".
// Years 0..9999 (the format has four year digits).
std::string format_http_date(std::int64_t unix_seconds);

// IMF-fixdate and the two obsolete forms a recipient must accept:
//   rfc850-date  "Sunday, 06-Nov-94 08:49:37 GMT"
//   asctime-date "Sun Nov  6 08:49:37 1994"
// The day name must be a valid one but is not checked against the date. A two-digit year is
// read in the fixed window 1970..2069; RFC 9110 §5.6.7 asks for a window 50 years ahead of the
// current year, which needs a clock this function does not have and only differs for dates
// written with two digits more than four decades from now.
boost::system::result<std::int64_t> parse_http_date(std::string_view text);

// Decimal Unix seconds (digits only) or an HTTP-date, surrounding spaces ignored.
boost::system::result<std::int64_t> parse_time_header(std::string_view text);

}  // namespace gw::http
