// HTTPS: certificate and host-name verification, SNI, client certificates, the handshake
// deadline. Certificates come from the openssl command line at run time (test_certs).
#include <boost/asio/ssl/context.hpp>
#include <catch2/catch.hpp>

#include "tests/unit/upstream/client_fixture.hpp"
#include "tests/unit/upstream/scripted_server.hpp"
#include "tests/unit/upstream/test_certs.hpp"
#include "tests/unit/upstream/test_loop.hpp"

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using namespace gw::upstream;
using namespace gw::upstream::test;
using namespace std::chrono_literals;

namespace {

ssl::context server_context(const cert_files& identity) {
  ssl::context ctx(ssl::context::tls_server);
  ctx.use_certificate_chain_file(identity.cert);
  ctx.use_private_key_file(identity.key, ssl::context::pem);
  return ctx;
}

reply echo_target(const seen_request& r) {
  return make_reply(reply_kind::answer, r.target);
}

std::string https_url(const char* host, const scripted_server& server) {
  return std::string("https://") + host + ":" + std::to_string(server.port());
}

}  // namespace

TEST_CASE("https with a trusted CA file: keep-alive, SNI for names only", "[upstream][https]") {
  asio::io_context io;
  auto tls = server_context(pki().localhost);
  scripted_server server(io.get_executor(), echo_target, &tls);
  auto by_name = options_for(https_url("localhost", server));
  by_name.ca_file = pki().localhost.cert;
  auto named = make_client(io, by_name);
  auto by_address = options_for(https_url("127.0.0.1", server));
  by_address.ca_file = pki().localhost.cert;
  auto addressed = make_client(io, by_address);
  auto body = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      const auto res = co_await named->async_send(get("/t/" + std::to_string(i)));
      REQUIRE(res.has_value());
      CHECK(res->body == "/t/" + std::to_string(i));
    }
    CHECK(server.accepted() == 1);
    const auto res = co_await addressed->async_send(get("/by-address"));
    REQUIRE(res.has_value());
    CHECK(server.accepted() == 2);
    // RFC 6066 §3: no SNI for an IP literal.
    CHECK(server.server_names() == std::vector<std::string>{"localhost", ""});
  };
  run(io, body, [&] {
    server.stop();
    named->close();
    addressed->close();
  });
}

TEST_CASE("a certificate for another name is tls_failed", "[upstream][https]") {
  asio::io_context io;
  auto tls = server_context(pki().other);
  scripted_server server(io.get_executor(), echo_target, &tls);
  auto options = options_for(server.url());
  options.ca_file = pki().other.cert;  // the chain is trusted; only the name is wrong
  auto client = make_client(io, options);
  auto body = [&]() -> asio::awaitable<void> {
    const auto res = co_await client->async_send(get("/"));
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == error::tls_failed);
    CHECK(server.requests().empty());
    CHECK(client->stats().open == 0);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("a self-signed certificate is not trusted by the system store", "[upstream][https]") {
  asio::io_context io;
  auto tls = server_context(pki().localhost);
  scripted_server server(io.get_executor(), echo_target, &tls);
  auto client = make_client(io, options_for(https_url("localhost", server)));
  auto body = [&]() -> asio::awaitable<void> {
    const auto res = co_await client->async_send(get("/"));
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == error::tls_failed);
    CHECK(server.requests().empty());
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("verify_peer=false accepts any certificate", "[upstream][https]") {
  asio::io_context io;
  auto tls = server_context(pki().other);
  scripted_server server(io.get_executor(), echo_target, &tls);
  auto options = options_for(server.url());
  options.verify_peer = false;
  auto client = make_client(io, options);
  auto body = [&]() -> asio::awaitable<void> {
    const auto res = co_await client->async_send(get("/unverified"));
    REQUIRE(res.has_value());
    CHECK(res->body == "/unverified");
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("a client certificate is presented when configured", "[upstream][https]") {
  asio::io_context io;
  auto tls = server_context(pki().localhost);
  tls.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  tls.load_verify_file(pki().client.cert);
  scripted_server server(io.get_executor(), echo_target, &tls);
  auto with_cert = options_for(https_url("localhost", server));
  with_cert.ca_file = pki().localhost.cert;
  auto without_cert = with_cert;
  with_cert.cert_file = pki().client.cert;
  with_cert.key_file = pki().client.key;
  auto presenting = make_client(io, with_cert);
  auto anonymous = make_client(io, without_cert);
  auto body = [&]() -> asio::awaitable<void> {
    const auto res = co_await presenting->async_send(get("/mutual"));
    REQUIRE(res.has_value());
    CHECK(res->body == "/mutual");
    // TLS 1.3 refuses the client after its handshake finished: the alert comes on the read.
    const auto refused = co_await anonymous->async_send(get("/mutual"));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == error::tls_failed);
    CHECK(server.requests().size() == 1);
  };
  run(io, body, [&] {
    server.stop();
    presenting->close();
    anonymous->close();
  });
}

TEST_CASE("a TLS handshake that never completes ends at connect_timeout", "[upstream][https]") {
  asio::io_context io;
  // A plain server waits for an HTTP head that a ClientHello never completes.
  scripted_server server(io.get_executor(), echo_target);
  auto options = options_for(https_url("127.0.0.1", server));
  options.verify_peer = false;
  options.connect_timeout = 300ms;
  // Beyond run()'s 60 s limit: only connect_timeout can end this call in time (no upper bound
  // on elapsed time, which a loaded CI box would break).
  options.timeout = 120s;
  auto client = make_client(io, options);
  auto body = [&]() -> asio::awaitable<void> {
    const auto start = std::chrono::steady_clock::now();
    const auto res = co_await client->async_send(get("/"));
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == error::timed_out);
    CHECK(since(start) >= 240ms);  // a timer never fires early
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("over TLS too, a connection closed while idle is replaced", "[upstream][https]") {
  asio::io_context io;
  auto tls = server_context(pki().localhost);
  scripted_server server(
      io.get_executor(),
      [](const seen_request& r) { return make_reply(reply_kind::answer_then_drop, r.target); },
      &tls);
  auto options = options_for(https_url("localhost", server));
  options.ca_file = pki().localhost.cert;
  auto client = make_client(io, options);
  auto body = [&]() -> asio::awaitable<void> {
    const auto first = co_await client->async_send(get("/a"));
    REQUIRE(first.has_value());
    const bool dropped = co_await eventually([&] { return server.closed_by_server() == 1; });
    REQUIRE(dropped);
    const auto second = co_await client->async_send(get("/b"));
    REQUIRE(second.has_value());
    CHECK(second->body == "/b");
    CHECK(server.accepted() == 2);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("unusable TLS files are refused at creation", "[upstream][https]") {
  asio::io_context io;
  auto base = options_for("https://127.0.0.1:1");
  auto missing_ca = base;
  missing_ca.ca_file = "/nonexistent/ca.pem";
  auto cert_only = base;
  cert_only.cert_file = pki().client.cert;
  auto mismatched = base;
  mismatched.cert_file = pki().client.cert;
  mismatched.key_file = pki().localhost.key;
  auto key_as_cert = base;
  key_as_cert.cert_file = pki().client.key;
  key_as_cert.key_file = pki().client.key;
  for (const auto& options : {missing_ca, cert_only, mismatched, key_as_cert}) {
    const auto made = make_http_client(io.get_executor(), options);
    REQUIRE_FALSE(made.has_value());
    CHECK(made.error() == error::bad_tls_config);
  }
  // Plain http never reads them.
  auto plain = missing_ca;
  plain.base_url = "http://127.0.0.1:1";
  CHECK(make_http_client(io.get_executor(), plain).has_value());
}
