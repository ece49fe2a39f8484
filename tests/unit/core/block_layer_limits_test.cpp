// The block-wise layer's bounds: transfers per client and in total, memory, and lifetimes
// (RFC 7959 §2.4/§2.5 leave them to the server; 5.03 with Max-Age when full).
#include <catch2/catch.hpp>

#include "tests/unit/core/block_layer_rig.hpp"

using namespace gw::test::blockwise;

TEST_CASE("transfer limits per client and in total answer 5.03 with Max-Age") {
  core::block_options options;
  options.max_transfers_per_client = 2;
  options.max_transfers = 3;
  rig r(options, 7);
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

  // A POST answer that cannot be stored after the POST ran is never turned into a failure: the
  // first block goes out with the real code, unstored (block_layer_reservation_test.cpp).
  auto post = r.exchange(request(coap::codes::post, "rpc", {'x'}), r.t0);
  CHECK(post.code == coap::codes::content);
  CHECK(block_of(post, coap::opt::block2) == block_value{0, true, 6});
  CHECK(r.forwards() == 1);
  CHECK(r.layer.stats().unstored == 1);

  // Safe methods keep no state and are never refused for it.
  auto get = r.exchange(request(coap::codes::get, "x"), r.t0);
  CHECK(get.code == coap::codes::content);
  CHECK(r.layer.stats().rejected_busy == 2);
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
  options.first_block_lifetime = 60s;
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

TEST_CASE("a finished Block1 transfer leaves no deadline behind") {
  rig r;
  r.handler = serve({});
  const auto upload = body(300);
  r.exchange(part("up", upload, 0, 3), r.t0);
  r.exchange(part("other", upload, 0, 3), r.t0 + 10s);
  r.exchange(part("up", upload, 1, 3), r.t0 + 20s);
  CHECK(r.layer.next_deadline() == r.t0 + 55s);  // "other" has block 0 only
  r.exchange(part("other", upload, 1, 3), r.t0 + 30s);
  r.exchange(part("other", upload, 2, 3), r.t0 + 30s);
  CHECK(r.layer.next_deadline() == r.t0 + 267s);
  r.exchange(part("up", upload, 2, 3), r.t0 + 40s);
  // No transfer deadline is left; the final answers are kept a lifetime for repeats.
  CHECK(r.layer.next_deadline() == r.t0 + 30s + 247s);
  CHECK(r.forwards() == 2);
}
