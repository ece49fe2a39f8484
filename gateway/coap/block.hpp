#pragma once
// Block1/Block2 option values (RFC 7959 §2.2) and the part of a body one block covers.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>

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

// The Block2 block to answer a request with (RFC 7959 §2.4), and the bytes it carries.
struct block2_choice {
  block_value block;  // NUM and SZX to send; M set when bytes of the body follow this block
  block_range range;  // never past_end
  friend bool operator==(const block2_choice&, const block2_choice&) = default;
};

// Why no block can be sent. Both are a Block2 value this server cannot process, so both are
// answered 4.02 Bad Option (RFC 7252 §5.4.1: Block2 is critical; RFC 7959 §2.2).
struct block2_refusal {
  enum class reason : std::uint8_t {
    past_end,       // no byte of the body starts at the block asked for
    num_too_large,  // the block exists, but its NUM at our size does not fit in 20 bits
  };
  reason why = reason::past_end;
  block_value block;  // the negotiated block (NUM at our size), for the diagnostic
  friend bool operator==(const block2_refusal&, const block2_refusal&) = default;
};
// The diagnostic for the 4.02 Bad Option a refusal is answered with (RFC 7959 §2.2: a NUM no
// byte starts at, or one that does not fit in the option, is a value we cannot process).
std::string describe(const block2_refusal& refusal, std::uint64_t body_size);

// RFC 7959 §2.4 early negotiation, for a body of `body_size` bytes:
// - no Block2 in the request (`asked` empty): block 0 at the server's size;
// - otherwise the client's size, or the server's if that is smaller ("MUST use the block size
//   indicated or a smaller size"); at a smaller size NUM is scaled up so that the block starts
//   at the byte offset the client asked for;
// - M of the request is ignored (§2.2: it MUST be zero in a request).
// `server_block_size` is the largest block the server sends: 16..1024, and a size that is not
// a power of two counts as the next smaller one. An empty body is one empty last block.
// The caller sends Block2 when the request had one or when M is set (the body needs more
// than one block); otherwise the whole body fits and goes out as is.
std::variant<block2_choice, block2_refusal> negotiate_block2(std::optional<block_value> asked,
                                                             std::size_t server_block_size,
                                                             std::uint64_t body_size);

}  // namespace gw::coap
