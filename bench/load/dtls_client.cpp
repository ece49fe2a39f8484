#include "bench/load/dtls_client.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/err.h>

namespace gw::bench {
namespace {

std::string openssl_error(const std::string& what) {
  char text[256] = {};
  ERR_error_string_n(ERR_get_error(), text, sizeof text);
  ERR_clear_error();
  return what + ": " + text;
}

// RFC 4279 §5.1: the client names its identity and uses the key it shares with the server.
unsigned int on_psk(SSL* ssl, const char*, char* identity, unsigned int max_identity,
                    unsigned char* psk, unsigned int max_psk) {
  const auto* self =
      static_cast<const dtls_client_context*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  const auto& p = self->psk();
  if (p.identity.size() + 1 > max_identity || p.key.size() > max_psk) return 0;
  std::memcpy(identity, p.identity.c_str(), p.identity.size() + 1);
  std::memcpy(psk, p.key.data(), p.key.size());
  return static_cast<unsigned int>(p.key.size());
}

// IPv6's minimum MTU: the gateway's default link MTU too (docs/dtls.md, "Sizes and limits").
constexpr long link_mtu = 1280;

}  // namespace

dtls_client_context::dtls_client_context(const dtls_psk& psk, const std::string& ciphers)
    : psk_(psk) {
  ctx_ = SSL_CTX_new(DTLS_client_method());
  if (ctx_ == nullptr) throw std::runtime_error(openssl_error("SSL_CTX_new"));
  SSL_CTX_set_app_data(ctx_, this);
  SSL_CTX_set_min_proto_version(ctx_, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx_, DTLS1_2_VERSION);
  // 10,000 idle clients in one process: give the record buffers back between datagrams.
  SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx_, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
  if (SSL_CTX_set_cipher_list(ctx_, ciphers.c_str()) != 1) {
    const auto why = openssl_error("--dtls-ciphers " + ciphers);
    SSL_CTX_free(ctx_);
    throw std::runtime_error(why);
  }
  SSL_CTX_set_psk_client_callback(ctx_, on_psk);
}

dtls_client_context::~dtls_client_context() {
  SSL_CTX_free(ctx_);
}

SSL* dtls_client_context::new_session(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  BIO* bio = BIO_new_dgram(fd, BIO_NOCLOSE);
  BIO_ADDR* peer = BIO_ADDR_new();
  sockaddr_in to{};
  socklen_t len = sizeof to;
  const bool ok = ssl != nullptr && bio != nullptr && peer != nullptr &&
                  ::getpeername(fd, reinterpret_cast<sockaddr*>(&to), &len) == 0 &&
                  BIO_ADDR_rawmake(peer, AF_INET, &to.sin_addr, sizeof to.sin_addr, to.sin_port);
  if (!ok) {
    BIO_ADDR_free(peer);
    BIO_free(bio);
    SSL_free(ssl);
    throw std::runtime_error(openssl_error("a DTLS client session"));
  }
  // The socket is connected: the BIO sends with send(), not sendto() to an empty address.
  BIO_ctrl_set_connected(bio, peer);
  BIO_ADDR_free(peer);
  SSL_set_bio(ssl, bio, bio);
  SSL_set_connect_state(ssl);
  DTLS_set_link_mtu(ssl, link_mtu);
  return ssl;
}

}  // namespace gw::bench
