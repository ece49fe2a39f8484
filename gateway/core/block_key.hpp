#pragma once
// The identity of a block-wise transfer: the client plus the parts of its request that stay the
// same from block to block (RFC 7959 §2.4, §2.5; RFC 9175 §3.3). Token and Message ID are left
// out on purpose: real clients take a new token per block, and CoAPExample keeps one MID for
// every request. Block1, Block2, Size1 and Size2 are left out because they change per block.
#include <cstddef>
#include <cstdint>

#include "gateway/coap/message.hpp"
#include "gateway/core/peer.hpp"

namespace gw::core {

struct block_key {
  core::peer peer;
  // Method, then number, length and value of each keyed option in message order; never the
  // payload (Block1 bodies arrive in pieces, Block2 follow-ups may leave the body out, §2.7).
  // Plain bytes, so equality is exact.
  coap::bytes material;

  friend bool operator==(const block_key&, const block_key&) = default;
};

// Keyed (base/keyed_hash.hpp): every byte of the material is the client's to choose.
struct block_key_hash {
  std::size_t operator()(const block_key& key) const noexcept;
};

// Keyed options: method, Uri-Path, Uri-Query, Content-Format, Accept and Request-Tag. An absent
// Request-Tag and an empty one are different keys (RFC 9175 §3.2).
block_key make_block_key(const peer& from, const coap::message& request);

}  // namespace gw::core
