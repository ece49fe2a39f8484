#pragma once
// Parse failures of the HTTP helpers, as an error_code category (shape of Beast's http/error).
#include <type_traits>

#include <boost/system/error_code.hpp>

namespace gw::http {

enum class error {
  bad_percent_escape = 1,  // '%' not followed by two hex digits (RFC 3986 §2.1)
  bad_content_range,       // not "bytes first-last/total" or "bytes */total" (RFC 9110 §14.4)
  bad_date,                // neither IMF-fixdate nor an obsolete HTTP-date (RFC 9110 §5.6.7)
  bad_number,              // not a decimal number, or out of range
};

const boost::system::error_category& error_category();
boost::system::error_code make_error_code(error e);

}  // namespace gw::http

template <>
struct boost::system::is_error_code_enum<gw::http::error> : std::true_type {};
