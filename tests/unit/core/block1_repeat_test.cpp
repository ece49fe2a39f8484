// Repeated Block1 blocks that the message layer cannot recognise as duplicates (NON, a new MID
// each time, as ExositeReady does): acknowledged again, never a second upstream call.
#include <catch2/catch.hpp>

#include "gateway/coap/block.hpp"
#include "tests/unit/core/endpoint_rig.hpp"

using namespace gw;
using namespace std::chrono_literals;
using namespace gw::test;

namespace {

constexpr std::uint8_t szx = 2;  // 64-byte blocks
constexpr std::size_t block_bytes = 64;

coap::bytes body_of(std::size_t n, std::uint8_t seed) {
  coap::bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
  return b;
}

struct uploader {
  rig& r;
  std::uint16_t mid = 100;

  // Block `num` of `body`, NON, with a fresh MID and token: nothing for the dedup cache.
  coap::message block(const coap::bytes& body, std::uint32_t num) {
    auto m = request(coap::type::non, coap::codes::put, mid, {static_cast<std::uint8_t>(mid)});
    ++mid;
    m.options.clear();
    m.add_option(coap::opt::uri_path, "up");
    const std::size_t offset = num * block_bytes;
    const bool more = offset + block_bytes < body.size();
    m.add_option(coap::opt::block1, coap::encode_block({num, more, szx}));
    const auto end = std::min(body.size(), offset + block_bytes);
    m.payload.assign(body.begin() + static_cast<std::ptrdiff_t>(offset),
                     body.begin() + static_cast<std::ptrdiff_t>(end));
    return m;
  }
  // Sends it; returns what came back (at most one message).
  std::vector<coap::message> send(const coap::message& m, time_point now) {
    r.receive(m, now);
    return r.sent();
  }
};

std::optional<coap::block_value> block1_of(const coap::message& m) {
  const auto* o = m.find(coap::opt::block1);
  if (o == nullptr) return std::nullopt;
  return coap::decode_block(o->value);
}

}  // namespace

TEST_CASE("a repeated Block1 block gets its 2.31 again and changes nothing") {
  rig r;
  uploader up{r};
  const auto body = body_of(3 * block_bytes - 10, 1);
  auto now = r.t0;
  REQUIRE(up.send(up.block(body, 0), now).at(0).code == coap::codes::continue_);
  auto c1 = up.send(up.block(body, 1), now += 1s);
  REQUIRE(c1.at(0).code == coap::codes::continue_);

  // Block 1 again (its 2.31 was lost), then block 0 again (a late duplicate).
  auto again1 = up.send(up.block(body, 1), now += 1s);
  REQUIRE(again1.size() == 1);
  CHECK(again1[0].code == coap::codes::continue_);
  CHECK(block1_of(again1[0]) == coap::block_value{1, true, szx});
  auto again0 = up.send(up.block(body, 0), now += 1s);
  REQUIRE(again0.size() == 1);
  CHECK(again0[0].code == coap::codes::continue_);
  CHECK(block1_of(again0[0]) == coap::block_value{0, true, szx});
  CHECK(r.ep.take_forwards().empty());

  // The transfer goes on where it was: the final block completes the body, forwarded once.
  up.send(up.block(body, 2), now += 1s);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  CHECK(fw[0].request.payload == body);
  CHECK(r.ep.blocks().rejected_incomplete == 0);
}

TEST_CASE("a repeated final Block1 block gets the stored final answer, never a second forward") {
  rig r;
  uploader up{r};
  const auto body = body_of(2 * block_bytes + 5, 3);
  auto now = r.t0;
  up.send(up.block(body, 0), now);
  up.send(up.block(body, 1), now);
  const auto last = up.block(body, 2);
  CHECK(up.send(last, now += 1s).empty());  // the forward is running
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);

  // While it runs, a repeat (new MID) joins it: nothing sent, nothing forwarded.
  auto repeat_running = last;
  repeat_running.mid = 0x7777;
  CHECK(up.send(repeat_running, now += 100ms).empty());
  CHECK(r.ep.take_forwards().empty());

  auto resp = coap::make_response(fw[0].request, coap::codes::changed);
  resp.set_payload("ok");
  r.ep.on_response(fw[0].id, resp, now);
  const auto final_answer = r.sent();
  REQUIRE(final_answer.size() == 1);
  CHECK(block1_of(final_answer[0]) == coap::block_value{2, false, szx});

  // Later repeats with new MIDs and tokens: the stored answer, with their own token.
  for (int i = 0; i < 3; ++i) {
    auto repeat = up.block(body, 2);
    auto out = up.send(repeat, now += 10s);
    REQUIRE(out.size() == 1);
    CHECK(out[0].code == coap::codes::changed);
    CHECK(out[0].payload_text() == "ok");
    CHECK(out[0].token == repeat.token);
    CHECK(block1_of(out[0]) == coap::block_value{2, false, szx});
  }
  CHECK(r.ep.take_forwards().empty());
  CHECK(r.ep.blocks().block1_repeats == 4);

  // A new upload to the same resource (NUM 0 again) is a new request.
  up.send(up.block(body, 0), now += 1s);
  up.send(up.block(body, 1), now);
  up.send(up.block(body, 2), now);
  CHECK(r.ep.take_forwards().size() == 1);
}

TEST_CASE("a restart whose first block is equal goes on with the new later blocks") {
  rig r;
  uploader up{r};
  const auto first = body_of(3 * block_bytes, 5);
  auto second = first;
  second[block_bytes + 3] ^= 0xFF;  // same block 0, another block 1
  auto now = r.t0;
  up.send(up.block(first, 0), now);
  up.send(up.block(first, 1), now);
  // The client starts over (block 0 equal, so taken as a repeat), then sends its new block 1.
  CHECK(up.send(up.block(second, 0), now += 1s).at(0).code == coap::codes::continue_);
  CHECK(up.send(up.block(second, 1), now).at(0).code == coap::codes::continue_);
  up.send(up.block(second, 2), now);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  CHECK(fw[0].request.payload == second);
}
