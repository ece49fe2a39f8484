#include "gateway/coap/block.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

namespace gw::coap {

namespace {
constexpr std::uint8_t reserved_szx = 7;
constexpr std::size_t max_block_option_length = 3;
}  // namespace

std::optional<block_value> decode_block(std::span<const std::uint8_t> value) {
  if (value.size() > max_block_option_length) return std::nullopt;
  const auto raw = decode_uint(value);
  if (!raw) return std::nullopt;
  block_value block{
      .num = static_cast<std::uint32_t>(*raw >> 4),
      .more = ((*raw >> 3) & 1) != 0,
      .szx = static_cast<std::uint8_t>(*raw & 0x7),
  };
  if (block.szx == reserved_szx) return std::nullopt;
  return block;
}

bytes encode_block(block_value block) {
  assert(block.num <= max_block_num);
  assert(block.szx < reserved_szx);
  return encode_uint((std::uint64_t{block.num} << 4) | (block.more ? 0x8u : 0u) |
                     (block.szx & 0x7u));
}

std::optional<std::uint8_t> szx_for_size(std::size_t size) {
  for (std::uint8_t szx = 0; szx < reserved_szx; ++szx) {
    if ((std::size_t{16} << szx) == size) return szx;
  }
  return std::nullopt;
}

// RFC 7959 §2.2-2.4: block NUM covers [NUM * size, NUM * size + size) clipped to the body;
// M is set when bytes remain after it.
block_range block_slice(std::size_t body_size, block_value block) {
  const std::size_t offset = block.offset();
  if (offset >= body_size && !(block.num == 0 && body_size == 0)) {
    return block_range{.offset = offset, .length = 0, .more = false, .past_end = true};
  }
  const std::size_t length = std::min(block.size(), body_size - offset);
  return block_range{
      .offset = offset,
      .length = length,
      .more = offset + length < body_size,
      .past_end = false,
  };
}

std::variant<block2_choice, block2_refusal> negotiate_block2(std::optional<block_value> asked,
                                                             std::size_t server_block_size,
                                                             std::uint64_t body_size) {
  std::uint8_t server_szx = 0;
  while (server_szx < reserved_szx - 1 && (std::size_t{32} << server_szx) <= server_block_size)
    ++server_szx;

  block_value block{0, false, server_szx};
  if (asked) {
    block.szx = std::min(asked->szx, server_szx);
    // NUM has at most 20 bits and the sizes differ by at most 2^6: no overflow in 32 bits.
    block.num = asked->num << (asked->szx - block.szx);
  }
  const auto size = static_cast<std::size_t>(
      std::min<std::uint64_t>(body_size, std::numeric_limits<std::size_t>::max()));
  const auto range = block_slice(size, block);
  if (range.past_end) return block2_refusal{block2_refusal::reason::past_end, block};
  if (block.num > max_block_num)
    return block2_refusal{block2_refusal::reason::num_too_large, block};
  block.more = range.more;
  return block2_choice{block, range};
}

std::string describe(const block2_refusal& refusal, std::uint64_t body_size) {
  const auto what = "Block2 NUM " + std::to_string(refusal.block.num) + " of " +
                    std::to_string(refusal.block.size()) + "-byte blocks";
  if (refusal.why == block2_refusal::reason::num_too_large)
    return what + " does not fit in the 20-bit block number";
  return what + " is past the end of the " + std::to_string(body_size) + "-byte representation";
}

}  // namespace gw::coap
