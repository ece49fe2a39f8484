#include "gateway/coap/block.hpp"

#include <cstddef>
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
