#include "gateway/server/cookie_jar.hpp"

#include <algorithm>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace gw::server {

namespace {
void fill_random(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
}
}  // namespace

cookie_jar::cookie_jar(core::time_point now, core::duration rotate_every)
    : rotate_every_(rotate_every), rotated_at_(now) {
  fill_random(current_);
  fill_random(previous_);
}

void cookie_jar::rotate_if_due(core::time_point now) {
  if (now - rotated_at_ < rotate_every_) return;
  // Two periods or more without a rotation: the previous secret is too old to honour.
  if (now - rotated_at_ >= 2 * rotate_every_)
    fill_random(previous_);
  else
    previous_ = current_;
  fill_random(current_);
  rotated_at_ = now;
}

cookie_jar::cookie cookie_jar::mac(const secret& key, std::span<const std::uint8_t> client) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> full{};
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), client.data(), client.size(),
       full.data(), &len);
  cookie c{};
  std::copy_n(full.begin(), cookie_size, c.begin());
  return c;
}

cookie_jar::cookie cookie_jar::make(std::span<const std::uint8_t> client, core::time_point now) {
  rotate_if_due(now);
  return mac(current_, client);
}

bool cookie_jar::verify(std::span<const std::uint8_t> c, std::span<const std::uint8_t> client,
                        core::time_point now) {
  rotate_if_due(now);
  if (c.size() != cookie_size) return false;
  // Constant time: the comparison must not tell an attacker how many bytes matched.
  const auto a = mac(current_, client);
  const auto b = mac(previous_, client);
  return CRYPTO_memcmp(a.data(), c.data(), cookie_size) == 0 ||
         CRYPTO_memcmp(b.data(), c.data(), cookie_size) == 0;
}

}  // namespace gw::server
