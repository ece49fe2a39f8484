#include "base/keyed_hash.hpp"

#include <sys/random.h>

#include <bit>
#include <chrono>
#include <cstring>
#include <random>

namespace gw::base {
namespace {

// "somepseudorandomlygeneratedbytes", the initialisation constants of the paper (§2).
constexpr std::uint64_t init0 = 0x736f6d6570736575ULL;
constexpr std::uint64_t init1 = 0x646f72616e646f6dULL;
constexpr std::uint64_t init2 = 0x6c7967656e657261ULL;
constexpr std::uint64_t init3 = 0x7465646279746573ULL;

constexpr void sip_round(std::uint64_t& v0, std::uint64_t& v1, std::uint64_t& v2,
                         std::uint64_t& v3) {
  v0 += v1;
  v1 = std::rotl(v1, 13);
  v1 ^= v0;
  v0 = std::rotl(v0, 32);
  v2 += v3;
  v3 = std::rotl(v3, 16);
  v3 ^= v2;
  v0 += v3;
  v3 = std::rotl(v3, 21);
  v3 ^= v0;
  v2 += v1;
  v1 = std::rotl(v1, 17);
  v1 ^= v2;
  v2 = std::rotl(v2, 32);
}

hash_key random_key() {
  std::uint8_t raw[16];
  std::size_t got = 0;
  while (got < sizeof raw) {
    const auto n = ::getrandom(raw + got, sizeof raw - got, 0);
    if (n <= 0) break;  // no getrandom (old kernel, seccomp): fall back below
    got += static_cast<std::size_t>(n);
  }
  if (got == sizeof raw) return hash_key_from_bytes(std::span<const std::uint8_t, 16>(raw));
  hash_key key;
  try {
    std::random_device rd;
    key.k0 = (std::uint64_t{rd()} << 32) | rd();
    key.k1 = (std::uint64_t{rd()} << 32) | rd();
  } catch (...) {
    // Last resort: unpredictable enough to spread an attacker's keys, if not secret.
    key.k0 =
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    key.k1 = reinterpret_cast<std::uintptr_t>(&key) ^ 0x9e3779b97f4a7c15ULL;
  }
  return key;
}

hash_key& key_storage() {
  static hash_key key = random_key();
  return key;
}

}  // namespace

hash_key hash_key_from_bytes(std::span<const std::uint8_t, 16> bytes) {
  hash_key key;
  for (std::size_t i = 0; i < 8; ++i) {
    key.k0 |= std::uint64_t{bytes[i]} << (8 * i);
    key.k1 |= std::uint64_t{bytes[8 + i]} << (8 * i);
  }
  return key;
}

const hash_key& process_hash_key() {
  return key_storage();
}

void set_process_hash_key(const hash_key& key) {
  key_storage() = key;
}

keyed_hasher::keyed_hasher(const hash_key& key)
    : v0_(key.k0 ^ init0), v1_(key.k1 ^ init1), v2_(key.k0 ^ init2), v3_(key.k1 ^ init3) {}

// Byte by byte until the word being filled is complete, then whole words read at once (the
// same little-endian words the byte path builds), then the rest byte by byte.
void keyed_hasher::feed(const std::uint8_t* data, std::size_t size) {
  while (size > 0 && (length_ & 7) != 0) {
    put(*data++);
    --size;
  }
  for (; size >= 8; data += 8, size -= 8) {
    std::uint64_t word = 0;
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(&word, data, 8);
    } else {
      for (int i = 7; i >= 0; --i) word = (word << 8) | data[i];
    }
    length_ += 8;
    compress_word(word);
  }
  while (size-- > 0) put(*data++);
}

keyed_hasher& keyed_hasher::bytes(std::span<const std::uint8_t> data) {
  feed(data.data(), data.size());
  return *this;
}

keyed_hasher& keyed_hasher::text(std::string_view data) {
  feed(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
  return *this;
}

keyed_hasher& keyed_hasher::field(std::span<const std::uint8_t> data) {
  integer(std::uint64_t{data.size()});
  return bytes(data);
}

keyed_hasher& keyed_hasher::field(std::string_view data) {
  integer(std::uint64_t{data.size()});
  return text(data);
}

// SipHash-2-4's compression: two SipRounds per 8-byte message word.
void keyed_hasher::compress() {
  compress_word(tail_);
  tail_ = 0;
}

void keyed_hasher::compress_word(std::uint64_t word) {
  v3_ ^= word;
  sip_round(v0_, v1_, v2_, v3_);
  sip_round(v0_, v1_, v2_, v3_);
  v0_ ^= word;
}

// The last word holds the remaining 0..7 bytes and, in its top byte, the message length mod
// 256; then four finalisation rounds. On copies, so that hashing may go on after finish().
std::uint64_t keyed_hasher::finish() const {
  std::uint64_t v0 = v0_, v1 = v1_, v2 = v2_, v3 = v3_;
  const std::uint64_t last = tail_ | (length_ << 56);
  v3 ^= last;
  sip_round(v0, v1, v2, v3);
  sip_round(v0, v1, v2, v3);
  v0 ^= last;
  v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) sip_round(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

std::uint64_t siphash24(const hash_key& key, std::span<const std::uint8_t> data) {
  return keyed_hasher(key).bytes(data).finish();
}

}  // namespace gw::base
