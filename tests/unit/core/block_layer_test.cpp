// The block-wise layer (RFC 7959) driven by scripted requests and a fake handler in virtual time.
#include <catch2/catch.hpp>

#include <functional>
#include <stdexcept>

#include "gateway/core/block_layer.hpp"

using namespace gw;
using namespace std::chrono_literals;
using coap::block_value;
using core::time_point;

namespace {

const core::peer client{0, false, {127, 0, 0, 1}, 40000};
const core::peer other_client{0, false, {127, 0, 0, 2}, 40000};

coap::bytes body(std::size_t n, std::uint8_t salt = 0) {
  coap::bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * 7 + salt) % 251);
  return b;
}

coap::message request(coap::code method, std::string_view path, coap::bytes payload = {},
                      coap::bytes token = {0x01}) {
  coap::message m;
  m.code = method;
  m.token = std::move(token);
  m.add_option(coap::opt::uri_path, path);
  m.payload = std::move(payload);
  return m;
}

coap::message with(coap::message m, std::uint16_t number, block_value block) {
  m.set_option(number, coap::encode_block(block));
  return m;
}

// Block NUM of `whole` at 2^(szx+4) bytes as a Block1 request; M set when bytes follow.
coap::message part(std::string_view path, const coap::bytes& whole, std::uint32_t num,
                   std::uint8_t szx, coap::bytes token = {0x01}) {
  const block_value b{num, false, szx};
  const std::size_t from = std::min(b.offset(), whole.size());
  const std::size_t to = std::min(b.offset() + b.size(), whole.size());
  auto m = request(coap::codes::post, path,
                   coap::bytes(whole.begin() + static_cast<std::ptrdiff_t>(from),
                               whole.begin() + static_cast<std::ptrdiff_t>(to)),
                   std::move(token));
  return with(std::move(m), coap::opt::block1, {num, to < whole.size(), szx});
}

std::optional<block_value> block_of(const coap::message& m, std::uint16_t number) {
  const auto* o = m.find(number);
  if (o == nullptr) return std::nullopt;
  return coap::decode_block(o->value);
}

coap::bytes etag_of(const coap::message& m) {
  const auto* o = m.find(coap::opt::etag);
  return o == nullptr ? coap::bytes{} : o->value;
}

coap::bytes slice(const coap::bytes& b, std::size_t offset, std::size_t length) {
  return coap::bytes(b.begin() + static_cast<std::ptrdiff_t>(offset),
                     b.begin() + static_cast<std::ptrdiff_t>(offset + length));
}

// The layer plus a handler that answers every forwarded request with `handler(request)`.
struct rig {
  core::block_layer layer;
  time_point t0{std::chrono::hours(1)};
  std::function<coap::message(const coap::message&)> handler;
  std::vector<coap::message> handled;  // what the handler saw

  explicit rig(core::block_options options = {}) : layer(options) {}

  coap::message exchange(coap::message req, time_point now, const core::peer& from = client) {
    auto result = layer.on_request(from, std::move(req), now);
    if (auto* a = std::get_if<core::block_layer::answer>(&result)) return a->response;
    auto& fw = std::get<core::block_layer::forward>(result);
    handled.push_back(fw.request);
    return layer.on_response(from, fw, handler(fw.request), now);
  }
  std::size_t forwards() const { return handled.size(); }
};

// A handler answering 2.05 with `payload`, Content-Format and Max-Age.
std::function<coap::message(const coap::message&)> serve(const coap::bytes& payload,
                                                         coap::code code = coap::codes::content) {
  return [payload, code](const coap::message& req) {
    auto r = coap::make_response(req, code);
    r.add_uint_option(coap::opt::content_format, 60);
    r.add_uint_option(coap::opt::max_age, 30);
    r.payload = payload;
    return r;
  };
}

core::block_options with_block_size(std::size_t size) {
  core::block_options o;
  o.block_size = size;
  return o;
}

}  // namespace

TEST_CASE("block rules: negotiated size and NUM") {
  struct row {
    std::optional<block_value> requested;
    std::uint8_t server_szx;
    block_value expected;
  };
  const row rows[] = {
      {std::nullopt, 6, {0, false, 6}},              // no Block2: the server's size
      {block_value{0, false, 3}, 6, {0, false, 3}},  // early negotiation: 128 bytes
      {block_value{5, true, 2}, 6, {5, false, 2}},   // M in a request is ignored
      {block_value{1, false, 4}, 2, {4, false, 2}},  // 256 -> 64: same offset 256
      {block_value{3, false, 6}, 0, {192, false, 0}},
      {block_value{2, false, 2}, 2, {2, false, 2}},
  };
  for (const auto& r : rows) CHECK(core::negotiate_block2(r.requested, r.server_szx) == r.expected);
}

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
  CHECK_THROWS_AS(core::block_layer(with_block_size(100)), std::invalid_argument);
  CHECK_THROWS_AS(core::block_layer(with_block_size(2048)), std::invalid_argument);
  core::block_layer layer(with_block_size(16));
  CHECK_THROWS_AS(layer.set_options(with_block_size(8)), std::invalid_argument);
  CHECK(layer.options().block_size == 16);
}

TEST_CASE("requests without block options and small responses pass through untouched") {
  core::block_layer layer({});
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
  CHECK(r.layer.next_deadline() == r.t0 + 247s);

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
  r.layer.on_timer(r.t0 + 247s);
  CHECK(r.layer.stats().block1_transfers == 0);
  CHECK(r.exchange(part("up", upload, 1, 3), r.t0 + 247s).code ==
        coap::codes::request_entity_incomplete);
  CHECK(r.forwards() == 0);
  CHECK(r.layer.stats().rejected_incomplete == 2);
}

TEST_CASE("a Block1 transfer lives a lifetime after its last block") {
  rig r;
  const auto upload = body(300);
  r.handler = serve({});
  r.exchange(part("up", upload, 0, 3), r.t0);
  r.exchange(part("up", upload, 1, 3), r.t0 + 200s);
  CHECK(r.layer.next_deadline() == r.t0 + 447s);
  r.layer.on_timer(r.t0 + 446s);
  CHECK(r.layer.stats().block1_transfers == 1);
  r.exchange(part("up", upload, 2, 3), r.t0 + 440s);
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

TEST_CASE("transfer limits per client and in total answer 5.03 with Max-Age") {
  core::block_options options;
  options.max_transfers_per_client = 2;
  options.max_transfers = 3;
  options.busy_max_age_s = 7;
  rig r(options);
  r.handler = serve(body(3000));
  const auto upload = body(300);

  CHECK(r.exchange(part("a", upload, 0, 3), r.t0).code == coap::codes::continue_);
  CHECK(r.exchange(part("b", upload, 0, 3), r.t0).code == coap::codes::continue_);
  auto third = r.exchange(part("c", upload, 0, 3), r.t0);
  CHECK(third.code == coap::codes::service_unavailable);
  CHECK(third.uint_option(coap::opt::max_age) == 7);
  CHECK_FALSE(third.payload.empty());
  // A restart is no new transfer.
  CHECK(r.exchange(part("a", upload, 0, 3), r.t0).code == coap::codes::continue_);

  // Another client has its own share, up to the total.
  CHECK(r.exchange(part("a", upload, 0, 3), r.t0, other_client).code == coap::codes::continue_);
  auto over_total = r.exchange(part("b", upload, 0, 3), r.t0, other_client);
  CHECK(over_total.code == coap::codes::service_unavailable);
  CHECK(over_total.uint_option(coap::opt::max_age) == 7);

  // A POST answer that cannot be stored is refused whole: its later blocks could never be had.
  auto post = r.exchange(request(coap::codes::post, "rpc", {'x'}), r.t0);
  CHECK(post.code == coap::codes::service_unavailable);
  CHECK(post.uint_option(coap::opt::max_age) == 7);
  CHECK_FALSE(post.has(coap::opt::block2));
  CHECK(r.forwards() == 1);

  // Safe methods keep no state and are never refused for it.
  auto get = r.exchange(request(coap::codes::get, "x"), r.t0);
  CHECK(get.code == coap::codes::content);
  CHECK(r.layer.stats().rejected_busy == 3);
}

TEST_CASE("stored Block2 representations count against the same limits") {
  core::block_options options;
  options.block_size = 128;
  options.max_transfers_per_client = 1;
  rig r(options);
  r.handler = serve(body(300));
  r.exchange(request(coap::codes::post, "rpc", {'x'}), r.t0);
  CHECK(r.layer.stats().block2_stored == 1);
  CHECK(r.exchange(part("up", body(300), 0, 3), r.t0).code == coap::codes::service_unavailable);
  // Asking the same POST again replaces its own representation.
  auto again = r.exchange(request(coap::codes::post, "rpc", {'x'}), r.t0);
  CHECK(block_of(again, coap::opt::block2) == block_value{0, true, 3});
}

TEST_CASE("the memory bound answers 5.03") {
  core::block_options options;
  options.block_size = 128;
  options.store_bytes = 1000;
  rig r(options);

  SECTION("a Block2 representation too large to keep") {
    r.handler = serve(body(2000));
    auto refused = r.exchange(request(coap::codes::post, "rpc", {'x'}), r.t0);
    CHECK(refused.code == coap::codes::service_unavailable);
    CHECK(refused.uint_option(coap::opt::max_age) == 5);
    r.handler = serve(body(500));
    auto fits = r.exchange(request(coap::codes::post, "rpc", {'x'}), r.t0);
    CHECK(block_of(fits, coap::opt::block2) == block_value{0, true, 3});
  }
  SECTION("a Block1 body announced by Size1") {
    auto first = part("up", body(950), 0, 3);
    first.add_uint_option(coap::opt::size1, 950);
    CHECK(r.exchange(first, r.t0).code == coap::codes::service_unavailable);
  }
  SECTION("a Block1 body that grows past it") {
    const auto upload = body(2000);
    coap::code last;
    std::uint32_t num = 0;
    for (; num < 15; ++num) {
      last = r.exchange(part("up", upload, num, 3), r.t0).code;
      CHECK(r.layer.stats().stored_bytes <= 1000);
      if (last != coap::codes::continue_) break;
    }
    CHECK(last == coap::codes::service_unavailable);
    CHECK(num > 2);
    CHECK(r.layer.stats().block1_transfers == 0);
  }
  CHECK(r.layer.stats().rejected_busy == 1);
}

TEST_CASE("expiry frees the limits") {
  core::block_options options;
  options.max_transfers_per_client = 1;
  options.lifetime = 60s;
  rig r(options);
  r.handler = serve({});
  const auto upload = body(300);
  r.exchange(part("a", upload, 0, 3), r.t0);
  CHECK(r.exchange(part("b", upload, 0, 3), r.t0).code == coap::codes::service_unavailable);

  REQUIRE(r.layer.next_deadline() == r.t0 + 60s);
  r.layer.on_timer(r.t0 + 59s);
  CHECK(r.layer.stats().block1_transfers == 1);
  r.layer.on_timer(r.t0 + 60s);
  const auto s = r.layer.stats();
  CHECK(s.block1_transfers == 0);
  CHECK(s.expired == 1);
  CHECK(s.stored_bytes == 0);
  CHECK(r.exchange(part("b", upload, 0, 3), r.t0 + 60s).code == coap::codes::continue_);
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

TEST_CASE("a finished Block1 transfer leaves no deadline behind") {
  rig r;
  r.handler = serve({});
  const auto upload = body(300);
  r.exchange(part("up", upload, 0, 3), r.t0);
  r.exchange(part("other", upload, 0, 3), r.t0 + 10s);
  r.exchange(part("up", upload, 1, 3), r.t0 + 20s);
  CHECK(r.layer.next_deadline() == r.t0 + 257s);
  r.exchange(part("other", upload, 1, 3), r.t0 + 30s);
  r.exchange(part("other", upload, 2, 3), r.t0 + 30s);
  CHECK(r.layer.next_deadline() == r.t0 + 267s);
  r.exchange(part("up", upload, 2, 3), r.t0 + 40s);
  // No transfer deadline is left; the final answers are kept a lifetime for repeats.
  CHECK(r.layer.next_deadline() == r.t0 + 30s + 247s);
  CHECK(r.forwards() == 2);
}
