#pragma once
// The one hash for every table keyed by data a client chooses: peer addresses and ports,
// tokens, IPv6 interface IDs, CIKs, request fingerprints. An unkeyed hash (FNV-1a,
// std::hash) lets a client pick keys that all land in one bucket and turn every lookup into a
// list walk (hash flooding); SipHash-2-4 under a secret per-process key does not, and it is
// fast on the short inputs these tables see.
//
// SipHash-2-4 as described by Aumasson and Bernstein, "SipHash: a fast short-input PRF"
// (INDOCRYPT 2012): 128-bit key, 64-bit output, two compression and four finalisation rounds,
// message words and key read little-endian.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace gw::base {

struct hash_key {
  std::uint64_t k0 = 0;  // key bytes 0..7, little-endian
  std::uint64_t k1 = 0;  // key bytes 8..15
  friend bool operator==(const hash_key&, const hash_key&) = default;
};

// The key as the paper writes it: 16 bytes, the first eight being k0 in little-endian order.
hash_key hash_key_from_bytes(std::span<const std::uint8_t, 16> bytes);

// This process's key: drawn from the kernel's random source on first use, so hashes differ
// between runs and cannot be predicted from outside. Never logged.
const hash_key& process_hash_key();
// Fixes the process key, for tests that want reproducible hashes. Call it before any table
// that hashes with the process key is filled (entries hashed under the old key are lost), and
// not while other threads hash.
void set_process_hash_key(const hash_key& key);

// Incremental SipHash-2-4: the result of finish() is the SipHash of all the bytes fed so far,
// in order, whichever pieces they came in. Chain a struct's fields through one hasher rather
// than combining per-field hashes. A variable-length field that is not the last one should go
// through field() (length first), so that ("ab", "c") and ("a", "bc") differ.
class keyed_hasher {
 public:
  keyed_hasher() : keyed_hasher(process_hash_key()) {}
  explicit keyed_hasher(const hash_key& key);

  keyed_hasher& bytes(std::span<const std::uint8_t> data);
  keyed_hasher& text(std::string_view data);
  // sizeof(T) bytes, little-endian: a fixed width whatever the value.
  template <std::unsigned_integral T>
  keyed_hasher& integer(T value) {
    // Into the word being filled in one step when it fits (a hot path: peers and Message IDs
    // are hashed on every datagram); byte by byte across a word boundary.
    const auto used = static_cast<unsigned>(length_ & 7);
    if (used + sizeof(T) <= 8) {
      tail_ |= std::uint64_t{value} << (8 * used);
      length_ += sizeof(T);
      if ((length_ & 7) == 0) compress();
      return *this;
    }
    for (std::size_t i = 0; i < sizeof(T); ++i) put(static_cast<std::uint8_t>(value >> (8 * i)));
    return *this;
  }
  // The length (64 bits), then the bytes.
  keyed_hasher& field(std::span<const std::uint8_t> data);
  keyed_hasher& field(std::string_view data);

  std::uint64_t finish() const;

 private:
  void put(std::uint8_t b) {
    tail_ |= std::uint64_t{b} << (8 * (length_ & 7));
    if ((++length_ & 7) == 0) compress();
  }
  void compress();
  void compress_word(std::uint64_t word);
  void feed(const std::uint8_t* data, std::size_t size);

  std::uint64_t v0_, v1_, v2_, v3_;
  std::uint64_t tail_ = 0;    // the bytes of the word being filled
  std::uint64_t length_ = 0;  // bytes fed in all
};

// One-shot SipHash-2-4.
std::uint64_t siphash24(const hash_key& key, std::span<const std::uint8_t> data);

// A short field mixed into a value that is already a keyed hash (a peer's, core/peer.hpp): a
// multiply by the golden ratio and MurmurHash3's 64-bit finaliser, a bijection that spreads
// each bit of `field` over the whole result. As hard to aim at one bucket as `keyed` is to
// predict, at a tenth of the cost of a SipHash; for fields of a few bytes (a Message ID).
inline std::uint64_t keyed_mix(std::uint64_t keyed, std::uint64_t field) {
  std::uint64_t x = keyed ^ (field * 0x9E3779B97F4A7C15ull);
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  x ^= x >> 33;
  return x;
}

// For std::unordered_map/set keyed by client-chosen strings (CIKs, aliases, resource names);
// transparent, so lookups by string_view need no temporary string.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return static_cast<std::size_t>(keyed_hasher{}.text(s).finish());
  }
};

}  // namespace gw::base
