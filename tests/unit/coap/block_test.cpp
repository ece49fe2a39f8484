#include "gateway/coap/block.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/unit/coap/hex.hpp"

namespace coap = gw::coap;
using coap::block_range;
using coap::block_value;
using coap::bytes;
using coap::test::from_hex;
using coap::test::to_hex;

TEST_CASE("Block option values decode per RFC 7959 §2.2", "[block]") {
  struct vector {
    const char* hex;
    block_value want;
  };
  const std::vector<vector> vectors{
      {"", {0, false, 0}},  // zero-length option: NUM 0, no more, 16 bytes
      {"06", {0, false, 6}},
      {"0e", {0, true, 6}},
      {"1a", {1, true, 2}},
      {"f2", {15, false, 2}},
      {"0100", {16, false, 0}},
      {"0126", {18, false, 6}},
      {"fffffe", {coap::max_block_num, true, 6}},  // the largest NUM fills all three bytes
  };
  for (const auto& v : vectors) {
    INFO(v.hex);
    const auto b = coap::decode_block(from_hex(v.hex));
    REQUIRE(b.has_value());
    CHECK(*b == v.want);
    CHECK(to_hex(coap::encode_block(v.want)) == v.hex);
  }
  // Non-minimal values are read like any uint.
  CHECK(coap::decode_block(from_hex("000e")) == block_value{0, true, 6});
  CHECK(coap::decode_block(from_hex("00001a")) == block_value{1, true, 2});
}

TEST_CASE("reserved SZX 7 and over-long values are rejected", "[block]") {
  CHECK_FALSE(coap::decode_block(from_hex("07")).has_value());
  CHECK_FALSE(coap::decode_block(from_hex("0f")).has_value());
  CHECK_FALSE(coap::decode_block(from_hex("ffffff")).has_value());
  CHECK_FALSE(coap::decode_block(from_hex("00000006")).has_value());
}

TEST_CASE("block sizes and SZX", "[block]") {
  CHECK(block_value{0, false, 0}.size() == 16);
  CHECK(block_value{0, false, 6}.size() == 1024);
  CHECK(block_value{3, false, 2}.offset() == 192);
  for (std::uint8_t szx = 0; szx <= 6; ++szx) {
    CHECK(coap::szx_for_size(std::size_t{16} << szx) == szx);
  }
  for (const std::size_t bad : {0, 1, 8, 15, 17, 48, 100, 1023, 2048, 4096}) {
    INFO(bad);
    CHECK_FALSE(coap::szx_for_size(bad).has_value());
  }
}

TEST_CASE("encode_block then decode_block is the identity", "[block]") {
  for (const std::uint32_t num : {0u, 1u, 15u, 16u, 4095u, 4096u, coap::max_block_num}) {
    for (const bool more : {false, true}) {
      for (std::uint8_t szx = 0; szx <= 6; ++szx) {
        const block_value b{num, more, szx};
        const bytes wire = coap::encode_block(b);
        CHECK(wire.size() <= 3);
        CHECK(coap::decode_block(wire) == b);
      }
    }
  }
}

TEST_CASE("block_slice: which bytes of the body a block covers", "[block]") {
  struct row {
    std::size_t body;
    block_value block;
    block_range want;
  };
  // SZX 2 is 64 bytes.
  const std::vector<row> rows{
      // An exact multiple of the block size: the last block is full and says no more.
      {1024, {0, false, 2}, {0, 64, true, false}},
      {1024, {15, false, 2}, {960, 64, false, false}},
      {1024, {16, false, 2}, {1024, 0, false, true}},
      // A short last block.
      {100, {0, false, 2}, {0, 64, true, false}},
      {100, {1, false, 2}, {64, 36, false, false}},
      {100, {2, false, 2}, {128, 0, false, true}},
      {65, {1, false, 2}, {64, 1, false, false}},
      // A body that fits in one block.
      {64, {0, false, 2}, {0, 64, false, false}},
      {5, {0, false, 6}, {0, 5, false, false}},
      // The empty body is one empty block; anything after it is past the end.
      {0, {0, false, 0}, {0, 0, false, false}},
      {0, {0, true, 6}, {0, 0, false, false}},
      {0, {1, false, 0}, {16, 0, false, true}},
      // The M bit of the request's option has no say in the answer.
      {100, {1, true, 2}, {64, 36, false, false}},
      // The largest NUM at the largest size does not overflow.
      {10,
       {coap::max_block_num, false, 6},
       {std::size_t{coap::max_block_num} * 1024, 0, false, true}},
  };
  for (const auto& r : rows) {
    INFO("body " << r.body << " num " << r.block.num << " szx " << int(r.block.szx));
    CHECK(coap::block_slice(r.body, r.block) == r.want);
  }
}

// A client walking NUM 0, 1, ... until M is clear sees every byte exactly once (RFC 7959 §2.4).
TEST_CASE("walking the blocks covers the body exactly", "[block]") {
  for (const std::size_t body : {0u, 1u, 15u, 16u, 17u, 1023u, 1024u, 1025u, 5000u}) {
    for (std::uint8_t szx = 0; szx <= 6; ++szx) {
      std::size_t covered = 0;
      std::uint32_t num = 0;
      for (;; ++num) {
        const auto r = coap::block_slice(body, block_value{num, false, szx});
        REQUIRE_FALSE(r.past_end);
        REQUIRE(r.offset == covered);
        covered += r.length;
        if (!r.more) break;
      }
      CHECK(covered == body);
      CHECK(coap::block_slice(body, block_value{num + 1, false, szx}).past_end);
    }
  }
}

// RFC 7959 §2.4 early negotiation and §2.2's 20-bit NUM, on body sizes alone: no body needs to
// exist, so the 20-bit limit is reachable.
TEST_CASE("negotiate_block2 picks the block to send, or says why none can be", "[block]") {
  using coap::block2_choice;
  using coap::block2_refusal;
  using reason = block2_refusal::reason;
  using outcome = std::variant<block2_choice, block2_refusal>;
  constexpr std::uint32_t max = coap::max_block_num;
  struct row {
    const char* what;
    std::optional<block_value> asked;
    std::size_t server_block_size;
    std::uint64_t body_size;
    outcome want;
  };
  const row rows[] = {
      {"no Block2, fits: block 0 at our size", std::nullopt, 1024, 100,
       block2_choice{{0, false, 6}, {0, 100, false, false}}},
      {"no Block2, larger than a block: M set", std::nullopt, 1024, 3000,
       block2_choice{{0, true, 6}, {0, 1024, true, false}}},
      {"early negotiation: the client's smaller size", block_value{0, false, 3}, 1024, 300,
       block2_choice{{0, true, 3}, {0, 128, true, false}}},
      {"M in a request is ignored", block_value{5, true, 2}, 1024, 1000,
       block2_choice{{5, true, 2}, {320, 64, true, false}}},
      {"256-byte blocks asked, 64 sent: same offset 256", block_value{1, false, 4}, 64, 1000,
       block2_choice{{4, true, 2}, {256, 64, true, false}}},
      {"1024 asked, 16 sent: NUM scaled by 64", block_value{3, false, 6}, 16, 5000,
       block2_choice{{192, true, 0}, {3072, 16, true, false}}},
      {"the last, short block", block_value{2, false, 2}, 64, 150,
       block2_choice{{2, false, 2}, {128, 22, false, false}}},
      {"a block ending exactly at the end", block_value{2, false, 2}, 64, 192,
       block2_choice{{2, false, 2}, {128, 64, false, false}}},
      {"past the end", block_value{3, false, 2}, 64, 192,
       block2_refusal{reason::past_end, {3, false, 2}}},
      {"an empty body is one empty block", std::nullopt, 1024, 0,
       block2_choice{{0, false, 6}, {0, 0, false, false}}},
      {"an empty body asked for in blocks", block_value{0, false, 1}, 1024, 0,
       block2_choice{{0, false, 1}, {0, 0, false, false}}},
      {"block 1 of an empty body", block_value{1, false, 0}, 1024, 0,
       block2_refusal{reason::past_end, {1, false, 0}}},
      {"a server size that is no power of two counts as the next smaller", std::nullopt, 100, 1000,
       block2_choice{{0, true, 2}, {0, 64, true, false}}},
      {"server sizes are clamped to 16..1024", std::nullopt, 8, 20,
       block2_choice{{0, true, 0}, {0, 16, true, false}}},
      {"server sizes are clamped to 16..1024 (above)", std::nullopt, 4096, 5000,
       block2_choice{{0, true, 6}, {0, 1024, true, false}}},
      {"the largest NUM as asked", block_value{max, false, 6}, 1024, std::uint64_t{1} << 30,
       block2_choice{{max, false, 6}, {std::size_t{max} * 1024, 1024, false, false}}},
      {"scaled NUM just fits in 20 bits", block_value{(1u << 14) - 1, false, 6}, 16,
       std::uint64_t{1} << 30,
       block2_choice{{(1u << 20) - 64, true, 0}, {((1u << 20) - 64) * 16, 16, true, false}}},
      {"scaled NUM does not fit in 20 bits", block_value{1u << 14, false, 6}, 16,
       std::uint64_t{1} << 30, block2_refusal{reason::num_too_large, {1u << 20, false, 0}}},
      {"past the end wins over a NUM too large", block_value{max, false, 6}, 16, 100,
       block2_refusal{reason::past_end, {max << 6, false, 0}}},
  };
  for (const auto& r : rows) {
    INFO(r.what);
    CHECK(coap::negotiate_block2(r.asked, r.server_block_size, r.body_size) == r.want);
  }
}

// What a client walking the blocks sees when it asked for larger ones than the server sends.
TEST_CASE("negotiated blocks cover the body exactly", "[block]") {
  for (const std::uint64_t body : {0u, 1u, 100u, 1024u, 5000u}) {
    for (std::uint8_t asked_szx = 0; asked_szx <= 6; ++asked_szx) {
      std::optional<block_value> asked = block_value{0, false, asked_szx};
      std::uint64_t covered = 0;
      for (;;) {
        const auto got = coap::negotiate_block2(asked, 64, body);
        const auto* c = std::get_if<coap::block2_choice>(&got);
        REQUIRE(c != nullptr);
        REQUIRE(c->block.szx == std::min<std::uint8_t>(asked_szx, 2));
        REQUIRE(c->range.offset == covered);
        covered += c->range.length;
        if (!c->block.more) break;
        asked = block_value{c->block.num + 1, false, c->block.szx};
      }
      CHECK(covered == body);
    }
  }
}
