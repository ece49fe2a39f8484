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
  const peer p{0, false, {10, 0, 0, 1}, 5683};
  const mid_key key{p, 0x37};
  const auto saved = gw::base::process_hash_key();
  gw::base::set_process_hash_key({1, 2});
  const auto fp1 = request_fingerprint(datagram);
  const auto peer1 = peer_hash{}(p);
  const auto mid1 = mid_key_hash{}(key);
  gw::base::set_process_hash_key({3, 4});
  CHECK(request_fingerprint(datagram) != fp1);
  CHECK(peer_hash{}(p) != peer1);
  CHECK(mid_key_hash{}(key) != mid1);
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
  REQUIRE(cache.insert(key, 1, 100, dedup_cache::lifetime_class::con, t + 10s));
  REQUIRE(cache.insert(key, 2, 101, dedup_cache::lifetime_class::con, t + 10s));
  cache.set_reply(key, 100, {1, 2, 3}, true);
  auto* e = cache.find(key, 2);
  REQUIRE(e != nullptr);
  CHECK(e->reply.empty());
  CHECK(cache.find(key, 1) == nullptr);
  CHECK(cache.size() == 1);
}

TEST_CASE("NON entries expire before CON entries") {
  dedup_cache cache(1 << 20);
  time_point t{};
  peer p{};
  cache.insert({p, 1}, 1, 1, dedup_cache::lifetime_class::con, t + 247s);
  cache.insert({p, 2}, 2, 2, dedup_cache::lifetime_class::non, t + 145s);
  CHECK(cache.next_expiry() == t + 145s);
  cache.expire(t + 145s);
  CHECK(cache.size() == 1);
  CHECK(cache.next_expiry() == t + 247s);
  cache.expire(t + 247s);
  CHECK(cache.size() == 0);
  CHECK(cache.bytes() == 0);
}
