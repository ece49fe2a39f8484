// Observe with values larger than a block or a datagram (RFC 7959 §2.6), in virtual time: the
// registry keeps the whole value and every notification is cut per observer.
#include <catch2/catch.hpp>

#include "gateway/core/block_layer.hpp"
#include "tests/unit/core/observe_rig.hpp"

using namespace gw::test;

namespace {

std::string text_of_size(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; s.size() < n; ++i) s += static_cast<char>('a' + i % 26);
  return s;
}

// Registers (from, token) on temp, asking for `szx` blocks when set; the registration is
// answered with `payload` at `at`. Returns the registration answer.
coap::message register_with(rig& r, coap::bytes token, const core::peer& from,
                            std::optional<std::uint8_t> szx, const std::string& payload,
                            std::uint16_t mid, time_point at) {
  auto req = observe_get(mid, std::move(token));
  if (szx) req.add_option(coap::opt::block2, coap::encode_block({0, false, *szx}));
  r.receive(req, at, from);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  auto resp = coap::make_response(fw[0].request, coap::codes::content);
  resp.add_uint_option(coap::opt::content_format, 0);
  resp.set_payload(payload);
  r.ep.on_response(fw[0].id, resp, at);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  return out[0];
}

std::optional<coap::block_value> block2_of(const coap::message& m) {
  const auto* o = m.find(coap::opt::block2);
  if (o == nullptr) return std::nullopt;
  return coap::decode_block(o->value);
}

const core::resource_key temp{"a32c85ba9dda45823be416246cf8b433baa068d7", "temp"};

}  // namespace

TEST_CASE("a Max-Age refresh sends each observer the whole value or its first block, never a cut") {
  rig r;
  const auto forty = text_of_size(40);
  // The plain observer first: the registration of the 16-byte one is answered with a block,
  // which must not become the value the plain one is sent.
  auto plain = register_with(r, {1}, client, std::nullopt, forty, 100, r.t0);
  CHECK(plain.payload_text() == forty);
  auto small = register_with(r, {2}, other_client, 0, forty, 101, r.t0);
  REQUIRE(block2_of(small));
  CHECK(small.payload.size() == 16);

  auto refreshes = r.run_until(r.t0 + 120s);
  REQUIRE(refreshes.size() == 2);
  for (auto& [at, n] : refreshes) {
    CHECK(at == r.t0 + 120s);
    CHECK(n.uint_option(coap::opt::observe).has_value());
    if (n.token == coap::bytes{1}) {
      CHECK(n.payload_text() == forty);
      CHECK_FALSE(n.has(coap::opt::block2));
    } else {
      CHECK(n.payload_text() == forty.substr(0, 16));
      CHECK(block2_of(n) == coap::block_value{0, true, 0});
      CHECK(n.uint_option(coap::opt::size2) == 40u);
      REQUIRE(n.has(coap::opt::etag));
      CHECK(n.find(coap::opt::etag)->value == small.find(coap::opt::etag)->value);
    }
  }
}

TEST_CASE("a value larger than a datagram is notified as its first block at each observer's size") {
  rig r;
  register_with(r, {1}, client, std::nullopt, "small", 100, r.t0);
  register_with(r, {2}, other_client, 2, "small", 101, r.t0);  // 64-byte blocks
  const auto big = text_of_size(3000);
  r.ep.notify(temp, value(big), r.t0 + 1s);
  auto sends = r.ep.take_sends();
  REQUIRE(sends.size() == 2);
  coap::bytes etag;
  for (auto& s : sends) {
    CHECK(s.datagram.size() <= r.ep.config().max_message_size);
    auto n = decode(s.datagram);
    CHECK(n.type == coap::type::con);
    CHECK(n.uint_option(coap::opt::observe).has_value());
    CHECK(n.uint_option(coap::opt::size2) == 3000u);
    REQUIRE(n.has(coap::opt::etag));
    if (etag.empty()) etag = n.find(coap::opt::etag)->value;
    CHECK(n.find(coap::opt::etag)->value == etag);  // one representation, one ETag
    const std::uint8_t szx = s.peer == client ? 6 : 2;
    CHECK(block2_of(n) == coap::block_value{0, true, szx});
    CHECK(n.payload_text() == big.substr(0, std::size_t{16} << szx));
  }

  // RFC 7959 §2.6: the client GETs the rest (no Observe); the read runs again and the block
  // layer cuts the block from its answer, with the same ETag while the value is the same.
  auto follow = observe_get(102, {2});
  follow.remove_options(coap::opt::observe);
  follow.add_option(coap::opt::block2, coap::encode_block({1, false, 2}));
  r.receive(follow, r.t0 + 2s, other_client);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  auto resp = coap::make_response(fw[0].request, coap::codes::content);
  resp.add_uint_option(coap::opt::content_format, 0);
  resp.set_payload(big);
  r.ep.on_response(fw[0].id, resp, r.t0 + 2s);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(block2_of(out[0]) == coap::block_value{1, true, 2});
  CHECK(out[0].payload_text() == big.substr(64, 64));
  CHECK(out[0].find(coap::opt::etag)->value == etag);
  CHECK_FALSE(out[0].has(coap::opt::observe));
}

TEST_CASE("a notification shrinks its block until the datagram fits max_message_size") {
  core::endpoint_config cfg;
  cfg.max_message_size = 200;  // smaller than one 1024-byte block
  rig r(cfg);
  register_with(r, {1, 2, 3, 4, 5, 6, 7, 8}, client, std::nullopt, "small", 100, r.t0);
  const auto body = text_of_size(500);
  r.ep.notify(temp, value(body), r.t0 + 1s);
  auto sends = r.ep.take_sends();
  REQUIRE(sends.size() == 1);
  CHECK(sends[0].datagram.size() <= 200);
  auto n = decode(sends[0].datagram);
  CHECK(block2_of(n) == coap::block_value{0, true, 3});  // 128 bytes: 256 would not fit
  CHECK(n.payload_text() == body.substr(0, 128));
  CHECK(n.uint_option(coap::opt::size2) == 500u);
}

TEST_CASE("the first block of a notification as a free function") {
  auto m = value(text_of_size(100));
  m.token = {9};
  m.set_uint_option(coap::opt::observe, 77);
  SECTION("fits: untouched") {
    auto out = core::first_block_of_notification(m, 6, 1152);
    CHECK(out == m);
  }
  SECTION("larger than the block: first block, Size2, the block layer's ETag") {
    auto out = core::first_block_of_notification(m, 1, 1152);
    CHECK(out.payload.size() == 32);
    CHECK(block2_of(out) == coap::block_value{0, true, 1});
    CHECK(out.uint_option(coap::opt::size2) == 100u);
    CHECK(out.find(coap::opt::etag)->value == core::derive_etag(m));
    CHECK(out.uint_option(coap::opt::observe) == 77u);
    CHECK(out.token == coap::bytes{9});
  }
}

TEST_CASE("Observe 1 stops the retransmission of the relation's notification in flight") {
  rig r;
  auto resource = register_observer(r, {7});
  r.sent();
  r.ep.notify(resource, value(text_of_size(3000)), r.t0 + 1s);
  auto n = r.sent();
  REQUIRE(n.size() == 1);
  auto dereg = observe_get(200, {7});
  dereg.set_uint_option(coap::opt::observe, 1);
  r.receive(dereg, r.t0 + 1500ms);
  CHECK(r.ep.observers() == 0);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content),
                   r.t0 + 1500ms);
  CHECK(r.sent().size() == 1);  // the answer to the deregistering GET
  auto later = r.run_until(r.t0 + 300s);
  for (auto& [at, m] : later) CHECK(m.mid != n[0].mid);  // no retransmission
  CHECK(later.empty());
  CHECK(r.ep.idle());
}
