#pragma once
// Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1): an HMAC over the client's address and
// port under a random secret, so that a ClientHello from a spoofed address costs one small
// answer and no memory. The secret is rotated every `rotate_every`; a cookie made under the
// previous secret is still accepted, so a handshake that straddles a rotation completes.
// No OpenSSL in this header; time is an argument.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "gateway/core/clock.hpp"

namespace gw::server {

class cookie_jar {
 public:
  static constexpr std::size_t cookie_size = 16;  // of HMAC-SHA-256, enough against guessing
  using cookie = std::array<std::uint8_t, cookie_size>;

  cookie_jar(core::time_point now, core::duration rotate_every);

  // `client` is any stable encoding of the client's transport address.
  cookie make(std::span<const std::uint8_t> client, core::time_point now);
  bool verify(std::span<const std::uint8_t> cookie, std::span<const std::uint8_t> client,
              core::time_point now);

 private:
  using secret = std::array<std::uint8_t, 32>;
  void rotate_if_due(core::time_point now);
  static cookie mac(const secret& key, std::span<const std::uint8_t> client);

  core::duration rotate_every_;
  core::time_point rotated_at_;
  secret current_{};
  secret previous_{};
};

}  // namespace gw::server
