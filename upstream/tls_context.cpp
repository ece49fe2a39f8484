#include "upstream/tls_context.hpp"

#include <openssl/ssl.h>
#include <boost/asio/ssl/context.hpp>

#include "upstream/error.hpp"

namespace gw::upstream {

namespace ssl = boost::asio::ssl;

boost::system::result<std::shared_ptr<ssl::context>> make_tls_context(
    const client_options& options) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);
  // RFC 8996 deprecates TLS 1.0 and 1.1.
  if (ec || SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    return error::bad_tls_config;
  }

  if (options.verify_peer) {
    ctx->set_verify_mode(ssl::verify_peer, ec);
    if (ec) return error::bad_tls_config;
    if (options.ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
    } else {
      ctx->load_verify_file(options.ca_file, ec);
    }
    if (ec) return error::bad_tls_config;
  } else {
    ctx->set_verify_mode(ssl::verify_none, ec);
    if (ec) return error::bad_tls_config;
  }

  if (options.cert_file.empty() != options.key_file.empty()) return error::bad_tls_config;
  if (!options.cert_file.empty()) {
    ctx->use_certificate_chain_file(options.cert_file, ec);
    if (ec) return error::bad_tls_config;
    ctx->use_private_key_file(options.key_file, ssl::context::pem, ec);
    if (ec) return error::bad_tls_config;
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) return error::bad_tls_config;
  }
  return ctx;
}

}  // namespace gw::upstream
