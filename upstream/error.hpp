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
};

const boost::system::error_category& error_category();
boost::system::error_code make_error_code(error e);

}  // namespace gw::upstream

template <>
struct boost::system::is_error_code_enum<gw::upstream::error> : std::true_type {};
