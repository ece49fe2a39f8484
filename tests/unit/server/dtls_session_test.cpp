// dtls_session's memory of an idle session: the record buffers given back after the handshake
// and set up again before every write. A client SSL and the gateway's server SSL talk through
// two datagram BIOs in memory (no sockets). OpenSSL reads its own clock for handshake timers;
// nothing here waits for one (no datagram is lost).
#include <catch2/catch.hpp>

#include <malloc.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "gateway/server/dtls_context.hpp"
#include "gateway/server/dtls_session.hpp"

using namespace gw::server;

namespace {

const std::string identity = "sensor-17";
const std::string secret = "a passphrase";

unsigned int client_psk(SSL*, const char*, char* id, unsigned int max_id, unsigned char* psk,
                        unsigned int max_psk) {
  if (identity.size() + 1 > max_id || secret.size() > max_psk) return 0;
  std::memcpy(id, identity.c_str(), identity.size() + 1);
  std::memcpy(psk, secret.data(), secret.size());
  return static_cast<unsigned int>(secret.size());
}

// Moves every datagram `from` wrote into `to`'s input queue.
void carry(SSL* from, SSL* to) {
  auto& out = queue_of(SSL_get_wbio(from)).out;
  auto& in = queue_of(SSL_get_rbio(to)).in;
  for (auto& d : out) in.push_back(std::move(d));
  out.clear();
}

std::size_t heap_in_use() {
  return mallinfo2().uordblks;
}

struct rig {
  dtls_stats stats;
  std::unique_ptr<dtls_context> server_ctx;
  SSL_CTX* client_ctx = nullptr;

  rig() {
    auto table = std::make_shared<psk_table>();
    table->add(identity, psk_table::key(secret.begin(), secret.end()));
    dtls_options o;
    o.psk = table;
    server_ctx = std::make_unique<dtls_context>(o, stats);
    client_ctx = SSL_CTX_new(DTLS_client_method());
    SSL_CTX_set_min_proto_version(client_ctx, DTLS1_2_VERSION);
    SSL_CTX_set_cipher_list(client_ctx, "PSK-AES128-CCM8");
    SSL_CTX_set_psk_client_callback(client_ctx, client_psk);
  }
  ~rig() { SSL_CTX_free(client_ctx); }

  // A finished handshake (cookie round trip included): the server session and its client.
  struct pair {
    std::unique_ptr<dtls_session> server;
    SSL* client = nullptr;
    ~pair() { SSL_free(client); }
  };

  std::unique_ptr<pair> connect(std::uint16_t port) {
    auto p = std::make_unique<pair>();
    gw::core::peer who;
    who.via = gw::core::transport::dtls;
    who.address = {127, 0, 0, 1};
    who.port = port;
    SSL* ssl = server_ctx->new_ssl(false);
    queue_of(SSL_get_rbio(ssl)).client = client_bytes(who);
    p->server = std::make_unique<dtls_session>(ssl, who, gw::core::time_point{});
    p->client = SSL_new(client_ctx);
    BIO* bio = new_datagram_bio();
    SSL_set_bio(p->client, bio, bio);
    SSL_set_connect_state(p->client);
    int c = 0, s = 0;
    for (int round = 0; round < 10 && (c != 1 || s != 1); ++round) {
      c = SSL_do_handshake(p->client);
      carry(p->client, ssl);
      s = SSL_do_handshake(p->server->readable());
      carry(ssl, p->client);
    }
    ERR_clear_error();
    REQUIRE(c == 1);
    REQUIRE(s == 1);
    p->server->st = dtls_session::state::open;
    return p;
  }
};

// What the server reads of everything queued for it (the listener's drive loop).
std::string server_reads(dtls_session& s) {
  std::string got;
  char buf[2048];
  for (;;) {
    const int n = SSL_read(s.readable(), buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ERR_clear_error();
  return got;
}

std::string client_reads(SSL* c) {
  std::string got;
  char buf[2048];
  for (;;) {
    const int n = SSL_read(c, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ERR_clear_error();
  return got;
}

}  // namespace

TEST_CASE("an idle session gives its record buffers back: over 30 KiB each", "[dtls]") {
  rig r;
  std::vector<std::unique_ptr<rig::pair>> sessions;
  for (std::uint16_t i = 0; i < 16; ++i) sessions.push_back(r.connect(40000 + i));
  const auto before = heap_in_use();
  for (auto& p : sessions) {
    CHECK_FALSE(p->server->buffers_released());
    p->server->release_buffers();
    CHECK(p->server->buffers_released());
  }
  const auto after = heap_in_use();
  REQUIRE(before > after);
  // OpenSSL 3.0 keeps about 33 KiB of DTLS record buffers per session after the handshake,
  // SSL_MODE_RELEASE_BUFFERS or not.
  CHECK((before - after) / sessions.size() > 30 * 1024);
}

TEST_CASE("a released session still writes first: a notification, then close_notify", "[dtls]") {
  rig r;
  auto p = r.connect(40100);
  p->server->release_buffers();
  // Without setting the buffers up again, OpenSSL 3.0's DTLS write path dereferences null.
  const std::string note = "notification";
  REQUIRE(SSL_write(p->server->writable(), note.data(), static_cast<int>(note.size())) ==
          static_cast<int>(note.size()));
  CHECK_FALSE(p->server->buffers_released());
  carry(p->server->ssl(), p->client);
  CHECK(client_reads(p->client) == note);

  p->server->release_buffers();
  CHECK(SSL_shutdown(p->server->writable()) >= 0);
  carry(p->server->ssl(), p->client);
  char buf[16];
  CHECK(SSL_read(p->client, buf, sizeof buf) == 0);
  CHECK(SSL_get_error(p->client, 0) == SSL_ERROR_ZERO_RETURN);
  ERR_clear_error();
}

TEST_CASE("a released session reads the next request and answers it, and releases again",
          "[dtls]") {
  rig r;
  auto p = r.connect(40200);
  for (int round = 0; round < 3; ++round) {
    INFO(round);
    p->server->release_buffers();
    REQUIRE(p->server->buffers_released());
    const std::string request = "request " + std::to_string(round);
    REQUIRE(SSL_write(p->client, request.data(), static_cast<int>(request.size())) > 0);
    carry(p->client, p->server->ssl());
    CHECK(server_reads(*p->server) == request);
    CHECK_FALSE(p->server->buffers_released());
    const std::string answer = "answer " + std::to_string(round);
    REQUIRE(SSL_write(p->server->writable(), answer.data(), static_cast<int>(answer.size())) > 0);
    carry(p->server->ssl(), p->client);
    CHECK(client_reads(p->client) == answer);
  }
}

TEST_CASE("a handshake in progress keeps its buffers", "[dtls]") {
  rig r;
  gw::core::peer who;
  who.via = gw::core::transport::dtls;
  SSL* ssl = r.server_ctx->new_ssl(false);
  dtls_session s(ssl, who, gw::core::time_point{});
  s.release_buffers();  // handshaking: a flight may still need retransmitting
  CHECK_FALSE(s.buffers_released());
}
