#include "upstream/error.hpp"

#include <string>

namespace gw::upstream {

namespace {

class upstream_category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "upstream"; }

  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::connect_failed:
        return "upstream host could not be resolved or connected";
      case error::tls_failed:
        return "TLS handshake or certificate verification failed";
      case error::timed_out:
        return "upstream deadline passed";
      case error::protocol_error:
        return "upstream answer is not valid HTTP/1.1";
      case error::connection_closed:
        return "upstream closed the connection before a complete answer";
      case error::queue_full:
        return "every upstream connection is busy and the wait queue is full";
      case error::shutting_down:
        return "upstream client is shutting down";
      case error::bad_request:
        return "request cannot be sent as HTTP/1.1";
      case error::bad_url:
        return "upstream URL is not http(s)://host[:port][/prefix]";
      case error::bad_tls_config:
        return "TLS CA, certificate or key file cannot be loaded";
    }
    return "unknown upstream error";
  }
};

}  // namespace

const boost::system::error_category& error_category() {
  static const upstream_category category;
  return category;
}

boost::system::error_code make_error_code(error e) {
  return {static_cast<int>(e), error_category()};
}

}  // namespace gw::upstream
