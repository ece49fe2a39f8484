#include "base/keyed_hash.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include <catch2/catch.hpp>

using gw::base::hash_key;
using gw::base::keyed_hasher;

namespace {

hash_key paper_key() {
  std::array<std::uint8_t, 16> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i);
  return gw::base::hash_key_from_bytes(k);
}

std::vector<std::uint8_t> counting(std::size_t n) {
  std::vector<std::uint8_t> m(n);
  for (std::size_t i = 0; i < n; ++i) m[i] = static_cast<std::uint8_t>(i);
  return m;
}

}  // namespace

TEST_CASE("SipHash-2-4 matches the paper's test vectors") {
  // Key 00 01 .. 0f, message 00 01 .. (n-1): the reference vectors of the SipHash paper and
  // its reference implementation. 15 bytes is the worked example of the paper's Appendix A.
  struct row {
    std::size_t length;
    std::uint64_t hash;
  };
  const row rows[] = {
      {0, 0x726fdb47dd0e0e31ULL},  {1, 0x74f839c593dc67fdULL},  {2, 0x0d6c8009d9a94f5aULL},
      {3, 0x85676696d7fb7e2dULL},  {7, 0xab0200f58b01d137ULL},  {8, 0x93f5f5799a932462ULL},
      {15, 0xa129ca6149be45e5ULL}, {63, 0x958a324ceb064572ULL},
  };
  const auto key = paper_key();
  CHECK(key.k0 == 0x0706050403020100ULL);
  CHECK(key.k1 == 0x0f0e0d0c0b0a0908ULL);
  for (const auto& r : rows) {
    CAPTURE(r.length);
    CHECK(gw::base::siphash24(key, counting(r.length)) == r.hash);
  }
}

TEST_CASE("the incremental hasher gives the one-shot result however the bytes are split") {
  const auto key = paper_key();
  const auto message = counting(63);
  const auto whole = gw::base::siphash24(key, message);
  for (std::size_t cut = 0; cut <= message.size(); ++cut) {
    keyed_hasher h(key);
    h.bytes(std::span(message).first(cut)).bytes(std::span(message).subspan(cut));
    CHECK(h.finish() == whole);
  }
  // finish() leaves the state alone: hashing may go on after it.
  keyed_hasher h(key);
  h.bytes(std::span(message).first(8));
  (void)h.finish();
  h.bytes(std::span(message).subspan(8));
  CHECK(h.finish() == whole);
}

TEST_CASE("words read at once hash as the same bytes fed one at a time") {
  // Three pieces, cut at every pair of offsets: each piece starts at every position within a
  // word, so the word path and the byte path meet at every alignment.
  const auto key = paper_key();
  const auto message = counting(40);
  const auto whole = gw::base::siphash24(key, message);
  const std::span all(message);
  for (std::size_t a = 0; a <= message.size(); ++a) {
    for (std::size_t b = a; b <= message.size(); ++b) {
      keyed_hasher h(key);
      h.bytes(all.first(a)).bytes(all.subspan(a, b - a)).bytes(all.subspan(b));
      CHECK(h.finish() == whole);
    }
  }
  // Integers at every offset within a word, against the same bytes fed singly.
  for (std::size_t lead = 0; lead < 8; ++lead) {
    CAPTURE(lead);
    keyed_hasher by_integer(key);
    keyed_hasher by_bytes(key);
    by_integer.bytes(all.first(lead))
        .integer(std::uint16_t{0x0201})
        .integer(std::uint32_t{0x06050403})
        .integer(std::uint8_t{7})
        .integer(std::uint64_t{0x0f0e0d0c0b0a0908});
    by_bytes.bytes(all.first(lead));
    for (std::uint8_t b = 1; b <= 15; ++b) by_bytes.bytes(std::span(&b, 1));
    CHECK(by_integer.finish() == by_bytes.finish());
  }
}

TEST_CASE("integers go in little-endian at their full width") {
  const auto key = paper_key();
  // 0x0100 as two bytes is "00 01", the 2-byte vector.
  CHECK(keyed_hasher(key).integer(std::uint16_t{0x0100}).finish() == 0x0d6c8009d9a94f5aULL);
  CHECK(keyed_hasher(key).integer(std::uint64_t{0x0706050403020100ULL}).finish() ==
        0x93f5f5799a932462ULL);
  // Width is part of the input: the same value as u8 and u32 hashes differently.
  CHECK(keyed_hasher(key).integer(std::uint8_t{1}).finish() !=
        keyed_hasher(key).integer(std::uint32_t{1}).finish());
  CHECK(keyed_hasher(key).text(std::string_view("\x00\x01\x02", 3)).finish() ==
        keyed_hasher(key).bytes(counting(3)).finish());
}

TEST_CASE("field() keeps the boundary between variable-length fields") {
  const auto key = paper_key();
  const auto ab_c = keyed_hasher(key).field("ab").field("c").finish();
  const auto a_bc = keyed_hasher(key).field("a").field("bc").finish();
  CHECK(ab_c != a_bc);
  // Raw text() does not: that is what field() is for.
  CHECK(keyed_hasher(key).text("ab").text("c").finish() ==
        keyed_hasher(key).text("a").text("bc").finish());
}

TEST_CASE("the key decides the hash") {
  const auto message = counting(16);
  const auto a = gw::base::siphash24(hash_key{1, 2}, message);
  CHECK(gw::base::siphash24(hash_key{1, 3}, message) != a);
  CHECK(gw::base::siphash24(hash_key{2, 2}, message) != a);
  CHECK(gw::base::siphash24(hash_key{1, 2}, message) == a);
}

TEST_CASE("the process key is random, and tests can fix it") {
  const auto drawn = gw::base::process_hash_key();
  CHECK(drawn != hash_key{});  // 2^-128 chance of a false failure
  const hash_key fixed{0x1122334455667788ULL, 0x99aabbccddeeff00ULL};
  gw::base::set_process_hash_key(fixed);
  CHECK(gw::base::process_hash_key() == fixed);
  CHECK(keyed_hasher{}.text("cik").finish() == keyed_hasher(fixed).text("cik").finish());
  CHECK(gw::base::string_hash{}("cik") == keyed_hasher(fixed).text("cik").finish());
  gw::base::set_process_hash_key(drawn);
}

TEST_CASE("string_hash is transparent for heterogeneous lookup") {
  std::unordered_set<std::string, gw::base::string_hash, std::equal_to<>> set{"alpha", "beta"};
  CHECK(set.contains(std::string_view("alpha")));
  CHECK_FALSE(set.contains(std::string_view("gamma")));
}
