#include "gateway/coap/error.hpp"

#include <string>

namespace gw::coap {

namespace {

class coap_category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "coap"; }

  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::truncated_header:
        return "datagram shorter than the 4-byte CoAP header";
      case error::bad_version:
        return "unsupported CoAP version";
      case error::bad_token_length:
        return "reserved token length (9..15)";
      case error::truncated_token:
        return "datagram ends inside the token";
      case error::reserved_option_nibble:
        return "reserved option delta or length nibble 15";
      case error::truncated_option:
        return "datagram ends inside an option";
      case error::option_number_overflow:
        return "option number beyond 65535";
      case error::empty_payload_after_marker:
        return "payload marker followed by no payload";
      case error::empty_message_not_empty:
        return "empty message (0.00) with token, options or payload";
    }
    return "unknown coap error";
  }
};

}  // namespace

const boost::system::error_category& error_category() {
  static const coap_category category;
  return category;
}

boost::system::error_code make_error_code(error e) {
  return {static_cast<int>(e), error_category()};
}

}  // namespace gw::coap
