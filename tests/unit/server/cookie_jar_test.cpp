// Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1), in virtual time: bound to the
// client's address and port, still good across one rotation of the secret, not across two.
#include <catch2/catch.hpp>

#include "gateway/server/cookie_jar.hpp"

namespace gw::server {
namespace {

using namespace std::chrono_literals;

const std::vector<std::uint8_t> client{127, 0, 0, 1, 0x16, 0x34, 4};
const std::vector<std::uint8_t> other_port{127, 0, 0, 1, 0x16, 0x35, 4};
const std::vector<std::uint8_t> other_host{127, 0, 0, 2, 0x16, 0x34, 4};

TEST_CASE("a cookie verifies for the client it was made for only", "[server][cookie]") {
  const core::time_point t0{};
  cookie_jar jar(t0, 5min);
  auto c = jar.make(client, t0);
  CHECK(jar.verify(c, client, t0 + 1s));
  CHECK_FALSE(jar.verify(c, other_port, t0 + 1s));
  CHECK_FALSE(jar.verify(c, other_host, t0 + 1s));
  for (std::size_t i = 0; i < c.size(); ++i) {
    auto tampered = c;
    tampered[i] ^= 0x01;
    CHECK_FALSE(jar.verify(tampered, client, t0 + 1s));
  }
  CHECK_FALSE(jar.verify(std::span(c).first(c.size() - 1), client, t0 + 1s));
  CHECK_FALSE(jar.verify({}, client, t0 + 1s));
}

TEST_CASE("a cookie survives one rotation of the secret, not two", "[server][cookie]") {
  const core::time_point t0{};
  cookie_jar jar(t0, 5min);
  auto c = jar.make(client, t0 + 4min);
  CHECK(jar.verify(c, client, t0 + 6min));         // rotated once: the previous secret
  CHECK(jar.make(client, t0 + 6min) != c);         // new cookies use the new secret
  CHECK_FALSE(jar.verify(c, client, t0 + 11min));  // rotated twice
}

TEST_CASE("after a long quiet spell no old cookie is honoured", "[server][cookie]") {
  const core::time_point t0{};
  cookie_jar jar(t0, 5min);
  auto c = jar.make(client, t0);
  CHECK_FALSE(jar.verify(c, client, t0 + 1h));
}

TEST_CASE("two jars (two workers, two processes) do not accept each other's cookies",
          "[server][cookie]") {
  const core::time_point t0{};
  cookie_jar a(t0, 5min);
  cookie_jar b(t0, 5min);
  CHECK_FALSE(b.verify(a.make(client, t0), client, t0));
}

}  // namespace
}  // namespace gw::server
