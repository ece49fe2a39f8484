#include <catch2/catch.hpp>

#include "gateway/core/dedup_cache.hpp"
#include "gateway/core/transmission_params.hpp"

using namespace gw::core;
using namespace std::chrono_literals;

TEST_CASE("fingerprints ignore the Message ID and nothing else") {
  std::vector<std::uint8_t> a{0x40, 0x01, 0x00, 0x37, 0xb2, 't', 's'};
  auto b = a;
  b[3] = 0x38;
  CHECK(request_fingerprint(a) == request_fingerprint(b));
  b[6] = 'x';
  CHECK(request_fingerprint(a) != request_fingerprint(b));
  b = a;
  b[0] = 0x50;  // NON instead of CON
  CHECK(request_fingerprint(a) != request_fingerprint(b));
}

TEST_CASE("fingerprints and table hashes of client-chosen data are keyed") {
  // Under an unkeyed hash (FNV-1a, as before) a client could make colliding requests offline;
  // with the process key it cannot know what collides.
  const std::vector<std::uint8_t> datagram{0x40, 0x01, 0x00, 0x37, 0xb2, 't', 's'};
  // A peer keeps the hash it was first given (peer.hpp): each key gets peers made afresh.
  const auto p = [] { return peer{0, false, {10, 0, 0, 1}, 5683}; };
  const auto saved = gw::base::process_hash_key();
  gw::base::set_process_hash_key({1, 2});
  const auto fp1 = request_fingerprint(datagram);
  const auto peer1 = peer_hash{}(p());
  const auto mid1 = mid_key_hash{}(mid_key{p(), 0x37});
  gw::base::set_process_hash_key({3, 4});
  CHECK(request_fingerprint(datagram) != fp1);
  CHECK(peer_hash{}(p()) != peer1);
  CHECK(mid_key_hash{}(mid_key{p(), 0x37}) != mid1);
  gw::base::set_process_hash_key({1, 2});
  CHECK(request_fingerprint(datagram) == fp1);
  gw::base::set_process_hash_key(saved);
}

TEST_CASE("fingerprints tell datagrams of different lengths apart") {
  // Bytes 2 and 3 are left out; the length still counts.
  CHECK(request_fingerprint(std::vector<std::uint8_t>{0x40, 0x01, 0x00}) !=
        request_fingerprint(std::vector<std::uint8_t>{0x40, 0x01}));
  CHECK(request_fingerprint(std::vector<std::uint8_t>{0x40, 0x01, 0x00, 0x00, 0xff}) !=
        request_fingerprint(std::vector<std::uint8_t>{0x40, 0x01, 0x00, 0x00}));
}

TEST_CASE("transmission parameters derive the RFC 7252 §4.8.2 times") {
  transmission_params p;
  CHECK(p.max_transmit_span() == 45s);
  CHECK(p.max_transmit_wait() == 93s);
  CHECK(p.exchange_lifetime() == 247s);
  CHECK(p.non_lifetime() == 145s);
}

TEST_CASE("a reply stored for a replaced entry is ignored") {
  dedup_cache cache(1 << 20);
  peer p{};
  time_point t{};
  mid_key key{p, 0x37};
  using k = dedup_cache::kind;
  REQUIRE(cache.insert(key, 1, 100, k::unsafe, t, t + 10s, 64));
  REQUIRE(cache.insert(key, 2, 101, k::unsafe, t, t + 10s, 64));
  cache.set_reply(key, 100, {1, 2, 3}, true, t, 1s);
  auto* e = cache.find(key, 2, t);
  REQUIRE(e != nullptr);
  CHECK(e->reply.empty());
  CHECK(cache.find(key, 1, t) == nullptr);
  CHECK(cache.size() == 1);
}

TEST_CASE("entries expire at their own deadline, safe ones a replay window after the answer") {
  dedup_cache cache(1 << 20);
  time_point t{};
  peer p{};
  using k = dedup_cache::kind;
  cache.insert({p, 1}, 1, 1, k::unsafe, t, t + 247s, 64);
  cache.insert({p, 2}, 2, 2, k::unsafe, t, t + 145s, 64);
  cache.insert({p, 3}, 3, 3, k::safe, t, t + 247s, 64);
  cache.set_reply({p, 3}, 3, {9}, true, t + 2s, 1s);
  // A later copy does not slide the window.
  CHECK(cache.find({p, 3}, 3, t + 2500ms) != nullptr);
  CHECK(cache.find({p, 3}, 3, t + 3s) == nullptr);
  cache.expire(t + 145s);
  CHECK(cache.size() == 1);
  cache.expire(t + 247s);
  CHECK(cache.size() == 0);
  CHECK(cache.bytes() == 0);
}

TEST_CASE("safe requests never push unsafe ones out; a full unsafe store refuses newcomers") {
  const std::size_t budget = 64 * 1024;
  dedup_cache cache(budget);
  time_point t{};
  peer p{};
  using k = dedup_cache::kind;
  const std::size_t unsafe_room = cache.max_bytes(k::unsafe);
  CHECK(unsafe_room + cache.max_bytes(k::safe) == budget);

  // Answered writes until the unsafe store refuses the next one.
  std::uint16_t mid = 0;
  request_id id = 1;
  while (cache.insert({p, mid}, mid, id, k::unsafe, t, t + 247s, 100)) {
    cache.set_reply({p, mid}, id, gw::coap::bytes(8, 1), true, t, 1s);
    ++mid;
    ++id;
  }
  const std::uint16_t writes = mid;
  CHECK(writes > 100);
  CHECK(cache.bytes(k::unsafe) <= unsafe_room);

  // Thousands of reads: they evict each other, never a write.
  for (int i = 0; i < 5000; ++i, ++id) {
    mid_key key{p, static_cast<std::uint16_t>(20000 + i)};
    REQUIRE(cache.insert(key, 7, id, k::safe, t, t + 247s, 100));
    cache.set_reply(key, id, gw::coap::bytes(40, 2), true, t, 1s);
  }
  CHECK(cache.safe_evictions() > 0);
  CHECK(cache.evictions() == 0);
  for (std::uint16_t m = 0; m < writes; ++m) REQUIRE(cache.find({p, m}, m, t + 30s) != nullptr);
  CHECK_FALSE(cache.take_unsafe_eviction_age(t + 30s).has_value());

  // A smaller budget (a reload) does evict writes, and says how young the youngest was.
  cache.set_max_bytes(budget / 2);
  CHECK(cache.evictions() > 0);
  CHECK(cache.take_unsafe_eviction_age(t + 30s) == duration(30s));
  CHECK(cache.bytes(k::unsafe) <= cache.max_bytes(k::unsafe));
}
