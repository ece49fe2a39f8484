#pragma once
// Typed failures of an upstream call, as an error_code category.
#include <type_traits>

#include <boost/system/error_code.hpp>

namespace gw::upstream {

enum class error {
  connect_failed = 1,  // resolve or TCP connect failed
  tls_failed,          // handshake or certificate verification failed
  timed_out,           // connect or request deadline passed
  protocol_error,      // the answer was not valid HTTP/1.1
  connection_closed,   // the server closed the connection before a complete answer
  queue_full,          // every connection busy and the wait queue full
  shutting_down,       // the client is being closed
  bad_request,         // refused before sending: method, target or a header is not HTTP/1.1
  bad_url,             // make_http_client(): the base URL is not http(s)://host[:port][/prefix]
  bad_tls_config,      // make_http_client(): a CA, certificate or key file cannot be loaded
};

const boost::system::error_category& error_category();
boost::system::error_code make_error_code(error e);

}  // namespace gw::upstream

template <>
struct boost::system::is_error_code_enum<gw::upstream::error> : std::true_type {};
