#pragma once
// Block1/Block2 option values (RFC 7959 §2.2) and the part of a body one block covers.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "gateway/coap/message.hpp"

namespace gw::coap {

// RFC 7959 §2.2: NUM fits in 20 bits (the option is at most 3 bytes).
inline constexpr std::uint32_t max_block_num = (1u << 20) - 1;

struct block_value {
  std::uint32_t num = 0;
  bool more = false;
  std::uint8_t szx = 0;  // block size 2^(szx + 4); 7 is reserved (BERT, RFC 8323)

  constexpr std::size_t size() const { return std::size_t{16} << szx; }
  constexpr std::size_t offset() const { return std::size_t{num} * size(); }
  friend bool operator==(const block_value&, const block_value&) = default;
};

// nullopt when longer than 3 bytes or SZX is 7. Zero bytes are the value 0 (NUM 0, 16 bytes).
std::optional<block_value> decode_block(std::span<const std::uint8_t> value);
// Minimal-length uint. Precondition: num <= max_block_num and szx <= 6.
bytes encode_block(block_value block);
// The SZX for a block size of 16, 32, ..., 1024 bytes; nullopt for any other size.
std::optional<std::uint8_t> szx_for_size(std::size_t size);

// Which bytes of a body of body_size bytes a block covers.
struct block_range {
  std::size_t offset = 0;
  std::size_t length = 0;
  bool more = false;      // bytes follow this block: the M bit of a Block2 response
  bool past_end = false;  // no byte of the body starts at this NUM
  friend bool operator==(const block_range&, const block_range&) = default;
};

// Only NUM and SZX of the block are used. NUM 0 of an empty body is an empty last block,
// not past the end: an empty representation is still served as one block.
block_range block_slice(std::size_t body_size, block_value block);

}  // namespace gw::coap
