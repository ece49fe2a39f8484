// The block-wise layer's Block2 side (RFC 7959 §2.4): negotiation, slicing, ETags, and the
// store that serves later blocks of a POST without running it again.
#include <catch2/catch.hpp>

#include <stdexcept>

#include "tests/unit/core/block_layer_rig.hpp"

using namespace gw::test::blockwise;

TEST_CASE("derived ETags are 4 bytes and follow payload and Content-Format") {
  coap::message a;
  a.code = coap::codes::content;
  a.payload = body(100);
  auto b = a;
  CHECK(core::derive_etag(a).size() == 4);
  CHECK(core::derive_etag(a) == core::derive_etag(b));
  b.payload[50] ^= 1;
  CHECK(core::derive_etag(a) != core::derive_etag(b));
  b = a;
  b.add_uint_option(coap::opt::content_format, 0);
  CHECK(core::derive_etag(a) != core::derive_etag(b));
}

TEST_CASE("a block size that is not 16..1024 and a power of two is a programming error") {
  CHECK_THROWS_AS(core::block_layer(with_block_size(100), 5), std::invalid_argument);
  CHECK_THROWS_AS(core::block_layer(with_block_size(2048), 5), std::invalid_argument);
  core::block_layer layer(with_block_size(16), 5);
  CHECK_THROWS_AS(layer.set_options(with_block_size(8), 5), std::invalid_argument);
  CHECK(layer.options().block_size == 16);
}

TEST_CASE("requests without block options and small responses pass through untouched") {
  core::block_layer layer({}, 5);
  const time_point t0{};
  for (auto method : {coap::codes::get, coap::codes::post}) {
    auto req = request(method, "ts", {'4', '2'});
    auto result = layer.on_request(client, req, t0);
    auto* fw = std::get_if<core::block_layer::forward>(&result);
    REQUIRE(fw != nullptr);
    CHECK(fw->request == req);
    CHECK_FALSE(fw->block1);
    // Exactly the block size still fits in one message.
    auto resp = serve(body(1024))(req);
    CHECK(layer.on_response(client, *fw, resp, t0) == resp);
  }
  const auto s = layer.stats();
  CHECK(s.block2_stored == 0);
  CHECK(s.stored_bytes == 0);
  CHECK_FALSE(layer.next_deadline());
}

TEST_CASE("early negotiation with 128-byte blocks, as in the API document's Download Content") {
  rig r;
  const auto content = body(300);
  r.handler = serve(content);
  const auto get = request(coap::codes::get, "download");

  auto b0 = r.exchange(with(get, coap::opt::block2, {0, false, 3}), r.t0);
  CHECK(b0.code == coap::codes::content);
  CHECK(block_of(b0, coap::opt::block2) == block_value{0, true, 3});
  CHECK(b0.uint_option(coap::opt::size2) == 300);
  CHECK(b0.payload == slice(content, 0, 128));
  CHECK(etag_of(b0).size() == 4);
  CHECK(b0.content_format() == 60);
  CHECK(b0.uint_option(coap::opt::max_age) == 30);

  auto b1 = r.exchange(with(get, coap::opt::block2, {1, false, 3}), r.t0 + 1s);
  CHECK(block_of(b1, coap::opt::block2) == block_value{1, true, 3});
  CHECK_FALSE(b1.has(coap::opt::size2));
  CHECK(b1.payload == slice(content, 128, 128));

  auto b2 = r.exchange(with(get, coap::opt::block2, {2, false, 3}), r.t0 + 2s);
  CHECK(block_of(b2, coap::opt::block2) == block_value{2, false, 3});
  CHECK(b2.payload == slice(content, 256, 44));

  CHECK(etag_of(b1) == etag_of(b0));
  CHECK(etag_of(b2) == etag_of(b0));
  // A safe method is run again for every block, and nothing is kept.
  CHECK(r.forwards() == 3);
  CHECK(r.handled[1].find(coap::opt::block2) != nullptr);
  CHECK(r.layer.stats().block2_stored == 0);
  CHECK_FALSE(r.layer.next_deadline());
}

TEST_CASE("a body of a multiple of the block size ends without an empty block") {
  rig r;
  const auto content = body(256);
  r.handler = serve(content);
  const auto get = request(coap::codes::get, "download");
  auto b1 = r.exchange(with(get, coap::opt::block2, {1, false, 3}), r.t0);
  CHECK(block_of(b1, coap::opt::block2) == block_value{1, false, 3});
  CHECK(b1.payload == slice(content, 128, 128));

  auto b2 = r.exchange(with(get, coap::opt::block2, {2, false, 3}), r.t0);
  CHECK(b2.code == coap::codes::bad_option);
  CHECK_FALSE(b2.payload.empty());
  CHECK_FALSE(b2.has(coap::opt::block2));
  CHECK(r.layer.stats().rejected_bad_block == 1);
}

TEST_CASE("empty and one-byte bodies are one last block") {
  rig r;
  const auto get = with(request(coap::codes::get, "x"), coap::opt::block2, {0, false, 3});
  for (std::size_t n : {0u, 1u}) {
    r.handler = serve(body(n));
    auto b0 = r.exchange(get, r.t0);
    CHECK(b0.code == coap::codes::content);
    CHECK(block_of(b0, coap::opt::block2) == block_value{0, false, 3});
    CHECK(b0.payload == body(n));
  }
  // Past the end even of an empty body.
  r.handler = serve({});
  CHECK(r.exchange(with(get, coap::opt::block2, {1, false, 3}), r.t0).code ==
        coap::codes::bad_option);
}

TEST_CASE("a large response to a request without Block2 goes out in the server's block size") {
  rig r(with_block_size(64));
  const auto content = body(200);
  r.handler = serve(content);
  auto b0 = r.exchange(request(coap::codes::get, "x"), r.t0);
  CHECK(block_of(b0, coap::opt::block2) == block_value{0, true, 2});
  CHECK(b0.uint_option(coap::opt::size2) == 200);
  CHECK(b0.payload == slice(content, 0, 64));
  CHECK_FALSE(etag_of(b0).empty());
}

TEST_CASE("the client may lower SZX mid-transfer") {
  rig r;
  const auto content = body(300);
  r.handler = serve(content);
  const auto get = request(coap::codes::get, "x");
  r.exchange(with(get, coap::opt::block2, {0, false, 3}), r.t0);
  // 128 bytes received; at 64-byte blocks the next one is NUM 2.
  auto b = r.exchange(with(get, coap::opt::block2, {2, false, 2}), r.t0);
  CHECK(block_of(b, coap::opt::block2) == block_value{2, true, 2});
  CHECK(b.payload == slice(content, 128, 64));
}

TEST_CASE("a larger SZX than the server's is answered at the same offset in the server's size") {
  rig r(with_block_size(64));
  const auto content = body(600);
  r.handler = serve(content);
  const auto get = request(coap::codes::get, "x");
  auto b0 = r.exchange(with(get, coap::opt::block2, {0, false, 6}), r.t0);
  CHECK(block_of(b0, coap::opt::block2) == block_value{0, true, 2});
  CHECK(b0.payload.size() == 64);
  auto b = r.exchange(with(get, coap::opt::block2, {1, false, 4}), r.t0);
  CHECK(block_of(b, coap::opt::block2) == block_value{4, true, 2});
  CHECK(b.payload == slice(content, 256, 64));
}

TEST_CASE("Size2 goes on the first block and wherever the request asks for it") {
  rig r(with_block_size(128));
  r.handler = serve(body(300));
  auto get = request(coap::codes::get, "x");
  get.add_uint_option(coap::opt::size2, 0);
  auto b1 = r.exchange(with(get, coap::opt::block2, {1, false, 3}), r.t0);
  CHECK(b1.uint_option(coap::opt::size2) == 300);

  r.handler = serve(body(20));
  auto small = r.exchange(get, r.t0);
  CHECK_FALSE(small.has(coap::opt::block2));
  CHECK(small.uint_option(coap::opt::size2) == 20);
}

TEST_CASE("the handler's ETag and other options are kept on every block") {
  rig r(with_block_size(128));
  const auto content = body(300);
  r.handler = [&](const coap::message& req) {
    auto resp = serve(content)(req);
    resp.add_option(coap::opt::etag, coap::bytes{0xE1, 0xE2});
    return resp;
  };
  const auto get = request(coap::codes::get, "x");
  for (std::uint32_t num = 0; num < 3; ++num) {
    auto b = r.exchange(with(get, coap::opt::block2, {num, false, 3}), r.t0);
    CHECK(etag_of(b) == coap::bytes{0xE1, 0xE2});
    CHECK(b.find_all(coap::opt::etag).size() == 1);
    CHECK(b.content_format() == 60);
    CHECK(b.uint_option(coap::opt::max_age) == 30);
  }
}

TEST_CASE("a GET representation that changes mid-transfer changes the ETag") {
  rig r(with_block_size(128));
  const auto get = request(coap::codes::get, "x");
  r.handler = serve(body(300, 0));
  auto b0 = r.exchange(get, r.t0);
  r.handler = serve(body(300, 1));
  auto b1 = r.exchange(with(get, coap::opt::block2, {1, false, 3}), r.t0);
  CHECK(block_of(b1, coap::opt::block2) == block_value{1, true, 3});
  CHECK(etag_of(b0) != etag_of(b1));
}

TEST_CASE("a response the handler sliced itself passes through unchanged") {
  rig r(with_block_size(64));
  coap::message sliced;
  r.handler = [&](const coap::message& req) {
    sliced = serve(body(128))(req);
    sliced.add_option(coap::opt::block2, coap::encode_block({1, true, 3}));
    return sliced;
  };
  auto b = r.exchange(with(request(coap::codes::get, "download"), coap::opt::block2, {1, false, 3}),
                      r.t0);
  CHECK(b == sliced);
}

TEST_CASE("an error answering a later GET block passes through") {
  rig r;
  r.handler = [](const coap::message& req) {
    return coap::make_error(req, coap::codes::not_found, "no such content");
  };
  auto b = r.exchange(with(request(coap::codes::get, "x"), coap::opt::block2, {3, false, 3}), r.t0);
  CHECK(b.code == coap::codes::not_found);
  CHECK(b.payload_text() == "no such content");
  CHECK_FALSE(b.has(coap::opt::block2));
}

TEST_CASE("a Block option with the reserved SZX 7 is 4.02") {
  rig r;
  r.handler = serve({});
  auto req = request(coap::codes::get, "x");
  req.add_option(coap::opt::block2, coap::bytes{0x17});  // NUM 1, SZX 7
  auto b = r.exchange(req, r.t0);
  CHECK(b.code == coap::codes::bad_option);
  CHECK(b.payload_text() == "unsupported Block2 value");
  CHECK(r.forwards() == 0);
}

TEST_CASE("later blocks of a POST come from the store and never run the request again") {
  rig r(with_block_size(128));
  const auto answer = body(300);
  r.handler = serve(answer);
  const auto post = request(coap::codes::post, "rpc", {'c', 'a', 'l', 'l'}, {0xA0});

  auto b0 = r.exchange(post, r.t0);
  CHECK(block_of(b0, coap::opt::block2) == block_value{0, true, 3});
  CHECK(b0.uint_option(coap::opt::size2) == 300);
  CHECK(r.layer.stats().block2_stored == 1);
  CHECK(r.layer.next_deadline() == r.t0 + 247s);

  // CoAPExample: the identical POST with only Block2 changed; others take a new token.
  auto again = with(post, coap::opt::block2, {1, false, 3});
  again.token = {0xA1};
  auto b1 = r.exchange(again, r.t0 + 1s);
  CHECK(b1.token == coap::bytes{0xA1});
  CHECK(block_of(b1, coap::opt::block2) == block_value{1, true, 3});
  CHECK(b1.payload == slice(answer, 128, 128));
  CHECK(etag_of(b1) == etag_of(b0));
  CHECK(b1.content_format() == 60);

  auto b2 = r.exchange(with(post, coap::opt::block2, {2, false, 3}), r.t0 + 2s);
  CHECK(block_of(b2, coap::opt::block2) == block_value{2, false, 3});
  CHECK(b2.payload == slice(answer, 256, 44));

  // A NON client whose last response was lost asks again, with a new MID.
  auto b2again = r.exchange(with(post, coap::opt::block2, {2, false, 3}), r.t0 + 3s);
  CHECK(b2again.payload == b2.payload);

  CHECK(r.forwards() == 1);
  const auto s = r.layer.stats();
  CHECK(s.blocks_from_store == 3);
  CHECK(s.block2_stored == 1);
  CHECK(r.layer.next_deadline() == r.t0 + 250s);
  r.layer.on_timer(r.t0 + 250s);
  CHECK(r.layer.stats().block2_stored == 0);
  CHECK(r.layer.stats().stored_bytes == 0);
}

TEST_CASE("a later POST block without a stored response is 4.08") {
  rig r(with_block_size(128));
  r.handler = serve(body(300));
  const auto post = request(coap::codes::post, "rpc", {'a'});
  auto never = r.exchange(with(post, coap::opt::block2, {1, false, 3}), r.t0);
  CHECK(never.code == coap::codes::request_entity_incomplete);
  CHECK_FALSE(never.payload.empty());

  r.exchange(post, r.t0);
  // Another body is another request: its blocks are not the stored ones.
  auto other = r.exchange(
      with(request(coap::codes::post, "rpc", {'b'}), coap::opt::block2, {1, false, 3}), r.t0);
  CHECK(other.code == coap::codes::request_entity_incomplete);
  // Nor are another client's.
  auto foreign = r.exchange(with(post, coap::opt::block2, {1, false, 3}), r.t0, other_client);
  CHECK(foreign.code == coap::codes::request_entity_incomplete);
  CHECK(r.forwards() == 1);
  CHECK(r.layer.stats().rejected_incomplete == 3);
}

TEST_CASE("a stored POST response expires a lifetime after its last block") {
  rig r(with_block_size(128));
  r.handler = serve(body(600));
  const auto post = request(coap::codes::post, "rpc", {'a'});
  r.exchange(post, r.t0);
  auto b1 = r.exchange(with(post, coap::opt::block2, {1, false, 3}), r.t0 + 100s);
  CHECK(block_of(b1, coap::opt::block2) == block_value{1, true, 3});

  REQUIRE(r.layer.next_deadline() == r.t0 + 347s);
  r.layer.on_timer(r.t0 + 346s);
  CHECK(r.layer.stats().block2_stored == 1);
  r.layer.on_timer(r.t0 + 347s);
  CHECK(r.layer.stats().block2_stored == 0);
  CHECK(r.layer.stats().expired == 1);
  CHECK_FALSE(r.layer.next_deadline());

  auto b2 = r.exchange(with(post, coap::opt::block2, {2, false, 3}), r.t0 + 348s);
  CHECK(b2.code == coap::codes::request_entity_incomplete);
}

TEST_CASE("an expired representation is not served even before the timer runs") {
  rig r(with_block_size(128));
  r.handler = serve(body(600));
  const auto post = request(coap::codes::post, "rpc", {'a'});
  r.exchange(post, r.t0);
  auto late = r.exchange(with(post, coap::opt::block2, {1, false, 3}), r.t0 + 247s);
  CHECK(late.code == coap::codes::request_entity_incomplete);
  CHECK(r.layer.stats().block2_stored == 0);
}

TEST_CASE("asking a POST again from block 0 runs it again and replaces the stored response") {
  rig r(with_block_size(128));
  const auto post = request(coap::codes::post, "rpc", {'a'});
  r.handler = serve(body(300, 0));
  r.exchange(post, r.t0);
  r.handler = serve(body(300, 9));
  auto b0 = r.exchange(with(post, coap::opt::block2, {0, false, 3}), r.t0);
  auto b1 = r.exchange(with(post, coap::opt::block2, {1, false, 3}), r.t0);
  CHECK(r.forwards() == 2);
  CHECK(b1.payload == slice(body(300, 9), 128, 128));
  CHECK(etag_of(b1) == etag_of(b0));
  CHECK(r.layer.stats().block2_stored == 1);
}
