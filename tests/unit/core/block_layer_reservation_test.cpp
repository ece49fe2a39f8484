// Room for the answer of an unsafe request is settled before the request runs (RFC 7959 §2.4
// leaves the store to the server; DESIGN.md: a POST is never run twice). A write is never
// applied upstream and then reported as failed: the store either holds room for its answer, or
// evicts representations already fetched to their last block, or refuses the request before it
// is forwarded.
#include <catch2/catch.hpp>

#include "tests/unit/core/block_layer_rig.hpp"

using namespace gw::test::blockwise;

namespace {

const core::peer third_client{0, false, {127, 0, 0, 3}, 40000};

// Block 128 bytes (SZX 3). A 1000-byte answer to POST /rpc takes about 1,160 store bytes
// (payload, options, key and bookkeeping): one fits in 2000 bytes, two do not.
core::block_options small_store(std::size_t reserve) {
  core::block_options o;
  o.block_size = 128;
  o.store_bytes = 2000;
  o.reserve_bytes = reserve;
  return o;
}

coap::message post(std::uint8_t salt = 'x') {
  return request(coap::codes::post, "rpc", {salt});
}

coap::message follow_up(std::uint32_t num, std::uint8_t salt = 'x') {
  return with(post(salt), coap::opt::block2, {num, false, 3});
}

// Fetches blocks 1.. of a stored answer; returns the whole body as the client sees it.
coap::bytes fetch_rest(rig& r, coap::bytes first, time_point now, const core::peer& from) {
  coap::bytes whole = std::move(first);
  for (std::uint32_t num = 1;; ++num) {
    auto block = r.exchange(follow_up(num), now, from);
    REQUIRE(block.code == coap::codes::content);
    whole.insert(whole.end(), block.payload.begin(), block.payload.end());
    if (!block_of(block, coap::opt::block2)->more) return whole;
  }
}

}  // namespace

TEST_CASE("a POST whose answer would find no room is refused before it runs, never after") {
  rig r(small_store(1200), 9);
  const auto answer = body(1000);
  r.handler = serve(answer);

  auto first = r.exchange(post(), r.t0, client);
  REQUIRE(block_of(first, coap::opt::block2) == block_value{0, true, 3});
  CHECK(r.layer.stats().block2_stored == 1);

  // The first client is still fetching: its representation stays, so the second POST cannot
  // have room for its answer, and it is refused without running.
  auto refused = r.exchange(post(), r.t0 + 1s, other_client);
  CHECK(refused.code == coap::codes::service_unavailable);
  CHECK(refused.uint_option(coap::opt::max_age) == 9);
  CHECK(r.forwards() == 1);
  CHECK(r.layer.stats().reserved_bytes == 0);

  // The representation being fetched was not touched.
  CHECK(fetch_rest(r, first.payload, r.t0 + 2s, client) == answer);
}

TEST_CASE("representations fetched to their last block are evicted to make room") {
  rig r(small_store(1200));
  const auto answer = body(1000);
  r.handler = serve(answer);

  auto a = r.exchange(post(), r.t0, client);
  CHECK(fetch_rest(r, a.payload, r.t0 + 1s, client) == answer);

  // The first answer was served to the end: it goes, the second POST runs and is stored.
  r.handler = serve(body(1000, 5));
  auto b = r.exchange(post(), r.t0 + 2s, other_client);
  CHECK(r.forwards() == 2);
  CHECK(block_of(b, coap::opt::block2) == block_value{0, true, 3});
  CHECK(r.layer.stats().evicted_served == 1);
  CHECK(r.layer.stats().block2_stored == 1);

  // A late copy of the evicted answer's last block cannot be served, and does not run again.
  CHECK(r.exchange(follow_up(7), r.t0 + 3s, client).code == coap::codes::request_entity_incomplete);

  // The second is still being fetched: a third POST finds no room and is refused unrun.
  CHECK(r.exchange(post(), r.t0 + 4s, third_client).code == coap::codes::service_unavailable);
  CHECK(r.forwards() == 2);
  CHECK(fetch_rest(r, b.payload, r.t0 + 5s, other_client) == body(1000, 5));
}

TEST_CASE("room is held while a request runs and given back with its answer") {
  core::block_options options = small_store(800);
  rig r(options);
  r.handler = serve(body(1000));

  auto run = [&](const core::peer& from) { return r.layer.on_request(from, post(), r.t0); };
  auto one = run(client);
  auto two = run(other_client);
  REQUIRE(std::holds_alternative<core::block_layer::forward>(one));
  REQUIRE(std::holds_alternative<core::block_layer::forward>(two));
  CHECK(r.layer.stats().reserved_bytes == 1600);

  // 400 bytes left: a third unsafe request cannot have its 800, a GET needs none.
  auto three = run(third_client);
  REQUIRE(std::holds_alternative<core::block_layer::answer>(three));
  CHECK(std::get<core::block_layer::answer>(three).response.code ==
        coap::codes::service_unavailable);
  auto get = r.layer.on_request(third_client, request(coap::codes::get, "x"), r.t0);
  CHECK(std::holds_alternative<core::block_layer::forward>(get));

  // The first answer is small: its room comes back and nothing is stored.
  auto& fw1 = std::get<core::block_layer::forward>(one);
  auto small = r.layer.on_response(client, fw1, serve(body(10))(fw1.request), r.t0);
  CHECK(small.payload == body(10));
  CHECK(r.layer.stats().reserved_bytes == 800);

  // The second answer (about 1,160 bytes) is larger than its 800 but the store has room now.
  auto& fw2 = std::get<core::block_layer::forward>(two);
  auto big = r.layer.on_response(other_client, fw2, serve(body(1000))(fw2.request), r.t0);
  CHECK(block_of(big, coap::opt::block2) == block_value{0, true, 3});
  CHECK(r.layer.stats().reserved_bytes == 0);
  CHECK(r.layer.stats().block2_stored == 1);
}

TEST_CASE("an answer larger than its reservation that finds no room goes out unstored") {
  rig r(small_store(300));
  r.handler = serve(body(1000));
  auto a = r.exchange(post(), r.t0, client);  // being fetched: never evicted
  REQUIRE(r.layer.stats().block2_stored == 1);

  // 300 bytes can be held, so the request runs; its 1,160-byte answer then finds no room. The
  // write happened: the client learns so from the code, with the first block, not a 5.03.
  r.handler = serve(body(1000, 3), coap::codes::changed);
  auto b = r.exchange(post(), r.t0 + 1s, other_client);
  CHECK(r.forwards() == 2);
  CHECK(b.code == coap::codes::changed);
  CHECK(b.payload == slice(body(1000, 3), 0, 128));
  CHECK(block_of(b, coap::opt::block2) == block_value{0, true, 3});
  CHECK(r.layer.stats().unstored == 1);
  CHECK(r.layer.stats().rejected_busy == 0);

  // Its later blocks are 4.08, and the POST is never run again for them.
  CHECK(r.exchange(follow_up(1), r.t0 + 2s, other_client).code ==
        coap::codes::request_entity_incomplete);
  CHECK(r.forwards() == 2);
  CHECK(fetch_rest(r, a.payload, r.t0 + 3s, client) == body(1000));
}

TEST_CASE("a reassembled Block1 request is refused before it runs when no room can be held") {
  core::block_options options = small_store(900);
  rig r(options);
  r.handler = serve(body(1000));
  r.exchange(post(), r.t0, client);  // stored, being fetched

  const auto upload = body(200);
  CHECK(r.exchange(part("up", upload, 0, 3), r.t0, other_client).code == coap::codes::continue_);
  auto last = r.exchange(part("up", upload, 1, 3), r.t0, other_client);
  CHECK(last.code == coap::codes::service_unavailable);
  CHECK(r.forwards() == 1);
  // Not remembered as finished: its repeat is not joined to a request that never ran.
  auto again = r.exchange(part("up", upload, 1, 3), r.t0 + 1s, other_client);
  CHECK(again.code != coap::codes::continue_);
  CHECK(r.forwards() == 1);
}

TEST_CASE("4.13 tells the largest body and the preferred block size") {
  core::block_options options;
  options.block_size = 64;
  options.max_body = 2048;
  rig r(options);
  r.handler = serve({});
  // Size1 announces more than max_body (RFC 7959 §4).
  auto first = part("up", body(200), 0, 2);
  first.add_uint_option(coap::opt::size1, 4096);
  auto refused = r.exchange(first, r.t0);
  CHECK(refused.code == coap::codes::request_entity_too_large);
  CHECK(refused.uint_option(coap::opt::size1) == 2048u);
  CHECK(block_of(refused, coap::opt::block1) == block_value{0, false, 2});
}
