#pragma once
// Decode errors of the CoAP wire format, as an error_code category (shape of Beast's http/error).
#include <system_error>

#include <boost/system/error_code.hpp>

namespace gw::coap {

enum class error {
  truncated_header = 1,  // fewer than 4 bytes
  bad_version,           // version field is not 1
  bad_token_length,      // TKL 9..15
  truncated_token,
  reserved_option_nibble,  // delta or length nibble 15 outside the payload marker
  truncated_option,
  option_number_overflow,  // option number beyond 65535
  empty_payload_after_marker,
  empty_message_not_empty,  // code 0.00 with token, options or payload
};

const boost::system::error_category& error_category();
boost::system::error_code make_error_code(error e);

}  // namespace gw::coap

template <>
struct boost::system::is_error_code_enum<gw::coap::error> : std::true_type {};
