// The block-wise layer's Block1 side (RFC 7959 §2.5): reassembly, Continue echoes, Request-Tag,
// Block1 with Block2, and a sweep over body and block sizes in both directions.
#include <catch2/catch.hpp>

#include "tests/unit/core/block_layer_rig.hpp"

using namespace gw::test::blockwise;

TEST_CASE("Block1 blocks are reassembled in order with 2.31 Continue echoes") {
  rig r;
  const auto upload = body(300);
  r.handler = [](const coap::message& req) {
    return coap::make_response(req, coap::codes::changed);
  };

  auto first = part("up", upload, 0, 3, {0x10});
  first.add_uint_option(coap::opt::size1, 300);
  auto c0 = r.exchange(first, r.t0);
  CHECK(c0.code == coap::codes::continue_);
  CHECK(block_of(c0, coap::opt::block1) == block_value{0, true, 3});
  CHECK(c0.payload.empty());
  CHECK(r.layer.stats().block1_transfers == 1);
  // Only block 0 so far: MAX_TRANSMIT_SPAN, not EXCHANGE_LIFETIME (issue #13).
  CHECK(r.layer.next_deadline() == r.t0 + 45s);

  auto c1 = r.exchange(part("up", upload, 1, 3, {0x11}), r.t0 + 1s);
  CHECK(c1.code == coap::codes::continue_);
  CHECK(block_of(c1, coap::opt::block1) == block_value{1, true, 3});
  CHECK(r.forwards() == 0);

  auto done = r.exchange(part("up", upload, 2, 3, {0x12}), r.t0 + 2s);
  REQUIRE(r.forwards() == 1);
  const auto& whole = r.handled[0];
  CHECK(whole.payload == upload);
  CHECK(whole.token == coap::bytes{0x12});
  CHECK(whole.path_string() == "/up");
  CHECK_FALSE(whole.has(coap::opt::block1));
  CHECK_FALSE(whole.has(coap::opt::size1));
  CHECK(done.code == coap::codes::changed);
  CHECK(block_of(done, coap::opt::block1) == block_value{2, false, 3});

  const auto s = r.layer.stats();
  CHECK(s.block1_bodies == 1);
  CHECK(s.block1_transfers == 0);
  // Only the final answer is kept, for repeats of the final block (block1_repeat_test.cpp).
  CHECK(r.layer.next_deadline() == r.t0 + 2s + 247s);
}

TEST_CASE("a body in a single Block1 block is forwarded at once") {
  rig r;
  r.handler = [](const coap::message& req) {
    return coap::make_response(req, coap::codes::changed);
  };
  auto done = r.exchange(part("up", body(10), 0, 3), r.t0);
  REQUIRE(r.forwards() == 1);
  CHECK(r.handled[0].payload == body(10));
  CHECK(block_of(done, coap::opt::block1) == block_value{0, false, 3});
  CHECK(r.layer.stats().block1_transfers == 0);
}

TEST_CASE("a server that prefers smaller blocks says so in the first Block1 echo") {
  rig r(with_block_size(64));
  const auto upload = body(212);
  r.handler = [](const coap::message& req) {
    return coap::make_response(req, coap::codes::changed);
  };
  auto c0 = r.exchange(part("up", upload, 0, 3), r.t0);
  CHECK(block_of(c0, coap::opt::block1) == block_value{0, true, 2});
  // The client heeds it: 128 bytes received are two 64-byte blocks.
  auto c2 = r.exchange(part("up", upload, 2, 2), r.t0);
  CHECK(block_of(c2, coap::opt::block1) == block_value{2, true, 2});
  r.exchange(part("up", upload, 3, 2), r.t0);
  REQUIRE(r.forwards() == 1);
  CHECK(r.handled[0].payload == upload);
}

TEST_CASE("the client may lower the Block1 SZX mid-transfer") {
  rig r;
  const auto upload = body(170);
  r.handler = [](const coap::message& req) {
    return coap::make_response(req, coap::codes::changed);
  };
  r.exchange(part("up", upload, 0, 3), r.t0);
  auto c4 = r.exchange(part("up", upload, 4, 1), r.t0);
  CHECK(c4.code == coap::codes::continue_);
  CHECK(block_of(c4, coap::opt::block1) == block_value{4, true, 1});
  auto done = r.exchange(part("up", upload, 5, 1), r.t0);
  REQUIRE(r.forwards() == 1);
  CHECK(r.handled[0].payload == upload);
  CHECK(block_of(done, coap::opt::block1) == block_value{5, false, 1});
}

TEST_CASE("an out-of-order Block1 block is 4.08 and ends the transfer") {
  rig r;
  const auto upload = body(500);
  r.handler = serve({});
  r.exchange(part("up", upload, 0, 3), r.t0);
  auto skipped = r.exchange(part("up", upload, 2, 3), r.t0);
  CHECK(skipped.code == coap::codes::request_entity_incomplete);
  CHECK_FALSE(skipped.payload.empty());
  CHECK(r.layer.stats().block1_transfers == 0);
  CHECK(r.exchange(part("up", upload, 1, 3), r.t0).code == coap::codes::request_entity_incomplete);
  CHECK(r.forwards() == 0);
}

TEST_CASE("a Block1 block without a transfer in progress is 4.08") {
  rig r;
  const auto upload = body(500);
  r.handler = serve({});
  CHECK(r.exchange(part("up", upload, 1, 3), r.t0).code == coap::codes::request_entity_incomplete);
  // Nor does the final block complete a transfer that expired.
  r.exchange(part("up", upload, 0, 3), r.t0);
  r.layer.on_timer(r.t0 + 45s);
  CHECK(r.layer.stats().block1_transfers == 0);
  CHECK(r.exchange(part("up", upload, 1, 3), r.t0 + 45s).code ==
        coap::codes::request_entity_incomplete);
  CHECK(r.forwards() == 0);
  CHECK(r.layer.stats().rejected_incomplete == 2);
}

TEST_CASE("a Block1 transfer that received only block 0 expires after MAX_TRANSMIT_SPAN") {
  rig r;
  const auto upload = body(300);
  r.handler = serve({});
  r.exchange(part("up", upload, 0, 3), r.t0);
  r.exchange(part("up", upload, 0, 3), r.t0 + 30s);  // a repeat of block 0 does not extend it
  r.layer.on_timer(r.t0 + 44s);
  CHECK(r.layer.stats().block1_transfers == 1);
  r.layer.on_timer(r.t0 + 45s);
  CHECK(r.layer.stats().block1_transfers == 0);
  CHECK(r.layer.stats().expired == 1);
}

TEST_CASE("a Block1 transfer lives a lifetime after its last block") {
  rig r;
  const auto upload = body(300);
  r.handler = serve({});
  r.exchange(part("up", upload, 0, 3), r.t0);
  r.exchange(part("up", upload, 1, 3), r.t0 + 40s);
  CHECK(r.layer.next_deadline() == r.t0 + 287s);
  r.layer.on_timer(r.t0 + 286s);
  CHECK(r.layer.stats().block1_transfers == 1);
  r.exchange(part("up", upload, 2, 3), r.t0 + 280s);
  REQUIRE(r.forwards() == 1);
  CHECK(r.handled[0].payload == upload);
}

TEST_CASE("a body over max_body is 4.13 with Size1") {
  core::block_options options;
  options.max_body = 256;
  rig r(options);
  const auto upload = body(400);
  r.handler = serve({});

  SECTION("announced by Size1") {
    auto first = part("up", upload, 0, 3);
    first.add_uint_option(coap::opt::size1, 400);
    auto refused = r.exchange(first, r.t0);
    CHECK(refused.code == coap::codes::request_entity_too_large);
    CHECK(refused.uint_option(coap::opt::size1) == 256);
    CHECK(r.layer.stats().block1_transfers == 0);
  }
  SECTION("accumulated") {
    r.exchange(part("up", upload, 0, 3), r.t0);
    r.exchange(part("up", upload, 1, 3), r.t0);
    auto refused = r.exchange(part("up", upload, 2, 3), r.t0);
    CHECK(refused.code == coap::codes::request_entity_too_large);
    CHECK(refused.uint_option(coap::opt::size1) == 256);
    CHECK(r.layer.stats().block1_transfers == 0);
    CHECK(r.exchange(part("up", upload, 3, 3), r.t0).code ==
          coap::codes::request_entity_incomplete);
  }
  CHECK(r.layer.stats().rejected_too_large == 1);
  CHECK(r.forwards() == 0);
}

TEST_CASE("a Block1 block whose payload does not match its size is 4.00") {
  rig r;
  r.handler = serve({});
  auto shortfirst = part("up", body(100), 0, 3);
  shortfirst.set_option(coap::opt::block1, coap::encode_block({0, true, 3}));
  CHECK(r.exchange(shortfirst, r.t0).code == coap::codes::bad_request);

  const auto upload = body(400);
  r.exchange(part("up", upload, 0, 3), r.t0);
  auto shortblock = part("up", upload, 1, 3);
  shortblock.payload.pop_back();
  CHECK(r.exchange(shortblock, r.t0).code == coap::codes::bad_request);
  CHECK(r.layer.stats().block1_transfers == 0);

  // A final block longer than its size.
  r.exchange(part("up", upload, 0, 3), r.t0);
  auto overlong = part("up", upload, 1, 3);
  overlong.payload.push_back(0);
  overlong.set_option(coap::opt::block1, coap::encode_block({1, false, 3}));
  CHECK(r.exchange(overlong, r.t0).code == coap::codes::bad_request);
  CHECK(r.forwards() == 0);
  CHECK(r.layer.stats().rejected_bad_block == 3);
}

TEST_CASE("Request-Tag keeps two concurrent Block1 transfers apart") {
  rig r;
  r.handler = [](const coap::message& req) {
    return coap::make_response(req, coap::codes::changed);
  };
  const auto a = body(200, 1);
  const auto b = body(200, 2);
  auto tagged = [](coap::message m, std::uint8_t tag) {
    m.add_option(coap::opt::request_tag, coap::bytes{tag});
    return m;
  };
  CHECK(r.exchange(tagged(part("up", a, 0, 3), 0xA), r.t0).code == coap::codes::continue_);
  CHECK(r.exchange(tagged(part("up", b, 0, 3), 0xB), r.t0).code == coap::codes::continue_);
  CHECK(r.layer.stats().block1_transfers == 2);
  r.exchange(tagged(part("up", b, 1, 3), 0xB), r.t0);
  r.exchange(tagged(part("up", a, 1, 3), 0xA), r.t0);
  REQUIRE(r.forwards() == 2);
  CHECK(r.handled[0].payload == b);
  CHECK(r.handled[1].payload == a);
  // The tag stays on the reassembled request.
  CHECK(r.handled[0].find(coap::opt::request_tag)->value == coap::bytes{0xB});
}

TEST_CASE("without a Request-Tag, a new NUM 0 restarts the transfer") {
  rig r;
  r.handler = [](const coap::message& req) {
    return coap::make_response(req, coap::codes::changed);
  };
  const auto a = body(200, 1);
  const auto b = body(200, 2);
  r.exchange(part("up", a, 0, 3), r.t0);
  r.exchange(part("up", b, 0, 3), r.t0);
  CHECK(r.layer.stats().block1_transfers == 1);
  r.exchange(part("up", b, 1, 3), r.t0);
  REQUIRE(r.forwards() == 1);
  CHECK(r.handled[0].payload == b);
}

TEST_CASE("Block1 and Block2 combined: a large RPC request with a large answer") {
  rig r;
  const auto call = body(300, 3);
  const auto result = body(300, 4);
  r.handler = serve(result);

  r.exchange(part("rpc", call, 0, 3, {0x20}), r.t0);
  r.exchange(part("rpc", call, 1, 3, {0x21}), r.t0);
  // Early negotiation for the response on the final Block1 block.
  auto last = with(part("rpc", call, 2, 3, {0x22}), coap::opt::block2, {0, false, 3});
  auto b0 = r.exchange(last, r.t0);
  REQUIRE(r.forwards() == 1);
  CHECK(r.handled[0].payload == call);
  CHECK(block_of(b0, coap::opt::block1) == block_value{2, false, 3});
  CHECK(block_of(b0, coap::opt::block2) == block_value{0, true, 3});
  CHECK(b0.uint_option(coap::opt::size2) == 300);
  CHECK(b0.payload == slice(result, 0, 128));

  // RFC 7959 §2.7: the follow-ups leave out Block1 and the body.
  auto follow =
      with(request(coap::codes::post, "rpc", {}, {0x23}), coap::opt::block2, {1, false, 3});
  auto b1 = r.exchange(follow, r.t0 + 1s);
  CHECK(block_of(b1, coap::opt::block2) == block_value{1, true, 3});
  CHECK_FALSE(b1.has(coap::opt::block1));
  CHECK(b1.payload == slice(result, 128, 128));
  CHECK(etag_of(b1) == etag_of(b0));

  // A client that keeps the last Block1 block on its follow-ups is served all the same.
  auto keeps = with(part("rpc", call, 2, 3, {0x24}), coap::opt::block2, {2, false, 3});
  auto b2 = r.exchange(keeps, r.t0 + 2s);
  CHECK(block_of(b2, coap::opt::block2) == block_value{2, false, 3});
  CHECK(b2.payload == slice(result, 256, 44));
  CHECK(r.forwards() == 1);
}

TEST_CASE("every body size reassembles from its blocks, both ways, at every block size") {
  for (std::uint8_t szx = 0; szx <= 6; ++szx) {
    const std::size_t size = std::size_t{16} << szx;
    for (std::size_t n :
         {std::size_t{0}, std::size_t{1}, size - 1, size, size + 1, 3 * size, 3 * size + 5}) {
      CAPTURE(szx, n);
      rig r;
      const auto content = body(n, szx);
      r.handler = serve(content);
      for (auto method : {coap::codes::get, coap::codes::post}) {
        coap::bytes got;
        std::uint32_t num = 0;
        for (bool more = true; more; ++num) {
          auto b = r.exchange(
              with(request(method, "x", {'p'}), coap::opt::block2, {num, false, szx}), r.t0);
          REQUIRE(b.code == coap::codes::content);
          auto block = block_of(b, coap::opt::block2);
          REQUIRE(block);
          CHECK(block->num == num);
          got.insert(got.end(), b.payload.begin(), b.payload.end());
          more = block->more;
          REQUIRE(num < 10);
        }
        CHECK(got == content);
        CHECK(num == std::max<std::size_t>(1, (n + size - 1) / size));
      }

      r.handler = [](const coap::message& req) {
        return coap::make_response(req, coap::codes::changed);
      };
      const auto before = r.forwards();
      const std::uint32_t blocks =
          static_cast<std::uint32_t>(std::max<std::size_t>(1, (n + size - 1) / size));
      for (std::uint32_t num = 0; num < blocks; ++num) {
        auto b = r.exchange(part("up", content, num, szx), r.t0);
        CHECK(b.code == (num + 1 < blocks ? coap::codes::continue_ : coap::codes::changed));
      }
      REQUIRE(r.forwards() == before + 1);
      CHECK(r.handled.back().payload == content);
    }
  }
}
