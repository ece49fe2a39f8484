#pragma once
// A remote endpoint as a value: which transport and which of our sockets it talked to, and its
// address and port. No Asio here; gateway/server converts.
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#include "base/keyed_hash.hpp"

namespace gw::core {

// coaps (RFC 7252 §9) is a transport of its own: a client speaking plain CoAP and coaps from
// the same address and port is two peers, which never share dedup, MID, block or observe state.
enum class transport : std::uint8_t { udp, dtls };

struct peer {
  std::uint16_t socket = 0;  // index of the local socket (of `via`) the datagram came in on
  bool v6 = false;
  std::array<std::uint8_t, 16> address{};  // IPv4 in the first 4 bytes
  std::uint16_t port = 0;
  transport via = transport::udp;  // last, so that {socket, v6, address, port} still reads
  // The keyed hash of the fields above, worked out on first use and carried by every copy: a
  // datagram's peer is looked up in half a dozen tables (amplification, MIDs, duplicates,
  // retransmissions, observers), and SipHash of the whole address was a fifth of the fan-out's
  // instructions. Not part of the value. Set the fields before the peer is used as a key; a
  // copy whose fields change afterwards must be re-made (peer{...}) or forget() its memo.
  mutable std::uint64_t hash_memo = 0;
  // The same for the address the per-address tier groups by (core::address_of, worked out
  // there): looked up some seven times per request in the limits' counters and buckets.
  mutable std::uint64_t address_memo = 0;

  friend bool operator==(const peer& a, const peer& b) {
    // Two memos that differ tell unequal peers apart at once; the address is compared as two
    // words (array == calls memcmp, and a datagram's peer is compared in every table).
    if (a.hash_memo != 0 && b.hash_memo != 0 && a.hash_memo != b.hash_memo) return false;
    std::uint64_t x[2], y[2];
    std::memcpy(x, a.address.data(), sizeof x);
    std::memcpy(y, b.address.data(), sizeof y);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0 && a.port == b.port && a.socket == b.socket &&
           a.v6 == b.v6 && a.via == b.via;
  }
  // "127.0.0.1:5683" or "[::1]:5683"
  std::string to_string() const;
  // Keyed (base/keyed_hash.hpp) under the process key; never 0.
  std::uint64_t hash() const {
    if (hash_memo == 0) hash_memo = compute_hash();
    // The sanitizer and fuzz trees keep assertions: a field changed after hashing shows there.
    assert(hash_memo == compute_hash());
    return hash_memo;
  }
  void forget() { hash_memo = address_memo = 0; }

 private:
  std::uint64_t compute_hash() const;
};

// Feeds the fields that identify a peer into a hasher: the peer's table hash (under the process
// key), and MACs over a peer under a key of their own (Echo values).
base::keyed_hasher& hash_append(base::keyed_hasher& h, const peer& p);
// Feeds the peer's table hash (8 bytes instead of its 22), so that keys holding a peer
// (mid_key, block_key, the observe registry's relations) chain it with their own fields.
inline base::keyed_hasher& hash_append_key(base::keyed_hasher& h, const peer& p) {
  return h.integer(p.hash());
}

// Keyed (base/keyed_hash.hpp): the address and port are the client's to choose.
struct peer_hash {
  std::size_t operator()(const peer& p) const noexcept {
    return static_cast<std::size_t>(p.hash());
  }
};

}  // namespace gw::core
