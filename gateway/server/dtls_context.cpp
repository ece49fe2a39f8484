#include "gateway/server/dtls_context.hpp"

#include <cstring>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "gateway/server/dtls_session.hpp"

namespace gw::server {
namespace {

std::string openssl_error(const std::string& what) {
  char text[256] = {};
  ERR_error_string_n(ERR_get_error(), text, sizeof text);
  ERR_clear_error();
  return what + ": " + text;
}

dtls_context& context_of(SSL* ssl) {
  return *static_cast<dtls_context*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
}

// The session behind `ssl`; nullptr for the listening SSL (before the cookie round trip).
dtls_session* session_of(SSL* ssl) {
  return static_cast<dtls_session*>(SSL_get_app_data(ssl));
}

// RFC 4279 §2: the key of the identity the client named; 0 (unknown_psk_identity alert) for an
// identity not in the table. Never logs the key.
unsigned int on_psk(SSL* ssl, const char* identity, unsigned char* psk, unsigned int max_len) {
  auto* session = session_of(ssl);
  const auto* key = context_of(ssl).psk().find(identity != nullptr ? identity : "");
  if (session != nullptr) session->psk_identity = identity != nullptr ? identity : "";
  if (key == nullptr || key->size() > max_len) {
    if (session != nullptr) session->failure = handshake_failure::unknown_identity;
    return 0;
  }
  std::memcpy(psk, key->data(), key->size());
  return static_cast<unsigned int>(key->size());
}

int on_cookie_generate(SSL* ssl, unsigned char* cookie, unsigned int* len) {
  auto& ctx = context_of(ssl);
  const auto c = ctx.cookies().make(queue_of(SSL_get_rbio(ssl)).client, core::clock::now());
  std::memcpy(cookie, c.data(), c.size());
  *len = static_cast<unsigned int>(c.size());
  ++ctx.stats().cookies_sent;
  return 1;
}

int on_cookie_verify(SSL* ssl, const unsigned char* cookie, unsigned int len) {
  return context_of(ssl).cookies().verify({cookie, len}, queue_of(SSL_get_rbio(ssl)).client,
                                          core::clock::now())
             ? 1
             : 0;
}

void on_info(const SSL* ssl, int where, int) {
  if ((where & SSL_CB_ALERT) == 0) return;
  auto& ctx = context_of(const_cast<SSL*>(ssl));
  if (where & SSL_CB_READ) {
    ++ctx.stats().alerts_received;
  } else {
    ++ctx.stats().alerts_sent;
  }
}

// RFC 7252 §9.1.3.1 (PSK) and §9.1.3.3 (certificates) make the CCM_8 suites mandatory; GCM and
// CCM are what other stacks (GnuTLS, mbed TLS) prefer. All pass the system's security level.
constexpr const char* cipher_list =
    "PSK-AES128-CCM8:PSK-AES128-GCM-SHA256:PSK-AES128-CCM:PSK-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-CCM:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";

// Cookie secrets rotate this often; the previous one is accepted one period more.
constexpr auto cookie_rotation = std::chrono::minutes(5);

}  // namespace

dtls_context::dtls_context(const dtls_options& options, dtls_stats& stats)
    : psk_(options.psk ? options.psk : std::make_shared<const psk_table>()),
      cookies_(core::clock::now(), cookie_rotation),
      stats_(stats),
      link_mtu_(options.link_mtu) {
  ctx_ = SSL_CTX_new(DTLS_server_method());
  if (ctx_ == nullptr) throw std::runtime_error(openssl_error("coap.dtls"));
  SSL_CTX_set_app_data(ctx_, this);
  // DTLS 1.2 only: 1.0 lacks the AEAD suites RFC 7252 requires.
  SSL_CTX_set_min_proto_version(ctx_, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx_, DTLS1_2_VERSION);
  // The read buffer goes back after each application record. DTLS's write buffer, and the read
  // buffer after a handshake, stay: dtls_session::release_buffers() frees them when idle.
  SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx_, SSL_OP_NO_QUERY_MTU | SSL_OP_COOKIE_EXCHANGE | SSL_OP_NO_TICKET |
                                SSL_OP_NO_RENEGOTIATION);
  // No session cache: a resumed session would outlive a PSK removed by a reload.
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_cipher_list(ctx_, cipher_list) != 1)
    throw std::runtime_error(openssl_error("coap.dtls: cipher suites"));
  SSL_CTX_set_cookie_generate_cb(ctx_, on_cookie_generate);
  SSL_CTX_set_cookie_verify_cb(ctx_, on_cookie_verify);
  SSL_CTX_set_info_callback(ctx_, on_info);
  SSL_CTX_set_psk_server_callback(ctx_, on_psk);
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx_, options.cert_file.c_str()) != 1)
      throw std::runtime_error(openssl_error("coap.dtls.cert_file " + options.cert_file));
    if (SSL_CTX_use_PrivateKey_file(ctx_, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      throw std::runtime_error(openssl_error("coap.dtls.key_file " + options.key_file));
    if (SSL_CTX_check_private_key(ctx_) != 1)
      throw std::runtime_error(openssl_error("coap.dtls.key_file"));
  }
  if (!options.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx_, options.client_ca_file.c_str(), nullptr) != 1)
      throw std::runtime_error(openssl_error("coap.dtls.client_ca_file " + options.client_ca_file));
    SSL_CTX_set_client_CA_list(ctx_, SSL_load_client_CA_file(options.client_ca_file.c_str()));
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  ERR_clear_error();
}

dtls_context::~dtls_context() {
  SSL_CTX_free(ctx_);
}

SSL* dtls_context::new_ssl(bool v6) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  BIO* bio = new_datagram_bio();
  if (bio == nullptr) {
    SSL_free(ssl);
    return nullptr;
  }
  queue_of(bio).v6 = v6;
  SSL_set_bio(ssl, bio, bio);  // one BIO both ways: SSL_free frees it once
  SSL_set_accept_state(ssl);
  DTLS_set_link_mtu(ssl, static_cast<long>(link_mtu_));
  return ssl;
}

}  // namespace gw::server
