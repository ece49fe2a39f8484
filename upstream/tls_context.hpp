#pragma once
// The OpenSSL client context shared by every connection of one http_client.
#include <memory>

#include <boost/system/result.hpp>

#include "upstream/http_client.hpp"

namespace boost::asio::ssl {
class context;
}

namespace gw::upstream {

// TLS 1.2 or later. With verify_peer the chain is checked against ca_file when given, else the
// system store; the host name is checked per connection (see connection). A client certificate
// is loaded when cert_file is set. Errors: error::bad_tls_config.
boost::system::result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(
    const client_options& options);

}  // namespace gw::upstream
