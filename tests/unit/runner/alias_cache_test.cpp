// The (CIK, alias) existence cache: TTLs, expiry, the bound, forget_cik; all in virtual time.
#include "runner/alias_cache.hpp"

#include <chrono>
#include <string>

#include <catch2/catch.hpp>

namespace gw::runner {
namespace {

using namespace std::chrono_literals;

const std::string cik_a(40, 'a');
const std::string cik_b(40, 'b');
const core::time_point t0 = core::time_point{} + 1000h;

alias_cache_options opts(core::duration ttl, core::duration negative, std::size_t max) {
  alias_cache_options o;
  o.ttl = ttl;
  o.negative_ttl = negative;
  o.max_entries = max;
  return o;
}

TEST_CASE("defaults", "[runner][alias_cache]") {
  alias_cache_options o;
  CHECK(o.ttl == 5min);
  CHECK(o.negative_ttl == 30s);
  CHECK(o.max_entries > 0u);
}

TEST_CASE("unknown pairs are nullopt", "[runner][alias_cache]") {
  alias_cache cache(opts(60s, 10s, 10));
  CHECK_FALSE(cache.find(cik_a, "temp", t0).has_value());
  cache.store(cik_a, "temp", true, t0);
  CHECK_FALSE(cache.find(cik_a, "other", t0).has_value());
  CHECK_FALSE(cache.find(cik_b, "temp", t0).has_value());
  CHECK(cache.size() == 1);
}

TEST_CASE("positive answers live for ttl", "[runner][alias_cache]") {
  alias_cache cache(opts(60s, 10s, 10));
  cache.store(cik_a, "temp", true, t0);
  CHECK(cache.find(cik_a, "temp", t0) == true);
  CHECK(cache.find(cik_a, "temp", t0 + 59s) == true);
  CHECK(cache.find(cik_a, "temp", t0 + 60s - 1ns) == true);
  CHECK_FALSE(cache.find(cik_a, "temp", t0 + 60s).has_value());
  CHECK(cache.size() == 0);  // an expired entry goes when found
}

TEST_CASE("negative answers live for negative_ttl", "[runner][alias_cache]") {
  alias_cache cache(opts(60s, 10s, 10));
  cache.store(cik_a, "nope", false, t0);
  CHECK(cache.find(cik_a, "nope", t0) == false);
  CHECK(cache.find(cik_a, "nope", t0 + 9s) == false);
  CHECK_FALSE(cache.find(cik_a, "nope", t0 + 10s).has_value());
}

TEST_CASE("a new answer replaces the old one and its expiry", "[runner][alias_cache]") {
  alias_cache cache(opts(60s, 10s, 10));
  cache.store(cik_a, "temp", false, t0);
  cache.store(cik_a, "temp", true, t0 + 5s);
  CHECK(cache.size() == 1);
  CHECK(cache.find(cik_a, "temp", t0 + 30s) == true);
  CHECK(cache.find(cik_a, "temp", t0 + 64s) == true);
  CHECK_FALSE(cache.find(cik_a, "temp", t0 + 65s).has_value());
}

TEST_CASE("a zero TTL or zero bound stores nothing", "[runner][alias_cache]") {
  alias_cache no_negative(opts(60s, 0s, 10));
  no_negative.store(cik_a, "nope", false, t0);
  CHECK_FALSE(no_negative.find(cik_a, "nope", t0).has_value());
  no_negative.store(cik_a, "temp", true, t0);
  CHECK(no_negative.find(cik_a, "temp", t0) == true);

  alias_cache no_positive(opts(0s, 10s, 10));
  no_positive.store(cik_a, "temp", true, t0);
  CHECK_FALSE(no_positive.find(cik_a, "temp", t0).has_value());

  alias_cache none(opts(60s, 10s, 0));
  none.store(cik_a, "temp", true, t0);
  CHECK(none.size() == 0);
  CHECK_FALSE(none.find(cik_a, "temp", t0).has_value());
}

TEST_CASE("the oldest entry goes first when full", "[runner][alias_cache]") {
  alias_cache cache(opts(60s, 10s, 3));
  cache.store(cik_a, "a1", true, t0);
  cache.store(cik_a, "a2", false, t0 + 1s);
  cache.store(cik_b, "b1", true, t0 + 2s);
  CHECK(cache.size() == 3);
  cache.store(cik_b, "b2", true, t0 + 3s);
  CHECK(cache.size() == 3);
  CHECK_FALSE(cache.find(cik_a, "a1", t0 + 3s).has_value());
  CHECK(cache.find(cik_a, "a2", t0 + 3s) == false);
  CHECK(cache.find(cik_b, "b1", t0 + 3s) == true);
  CHECK(cache.find(cik_b, "b2", t0 + 3s) == true);

  // Storing again makes an entry the newest.
  cache.store(cik_a, "a2", true, t0 + 4s);
  cache.store(cik_a, "a3", true, t0 + 5s);
  CHECK(cache.size() == 3);
  CHECK_FALSE(cache.find(cik_b, "b1", t0 + 5s).has_value());
  CHECK(cache.find(cik_a, "a2", t0 + 5s) == true);
  CHECK(cache.find(cik_b, "b2", t0 + 5s) == true);
  CHECK(cache.find(cik_a, "a3", t0 + 5s) == true);

  // Many more than the bound.
  for (int i = 0; i < 1000; ++i) cache.store(cik_a, "x" + std::to_string(i), true, t0 + 6s);
  CHECK(cache.size() == 3);
  CHECK(cache.find(cik_a, "x999", t0 + 6s) == true);
  CHECK(cache.find(cik_a, "x997", t0 + 6s) == true);
  CHECK_FALSE(cache.find(cik_a, "x996", t0 + 6s).has_value());
}

TEST_CASE("forget_cik drops that CIK's entries only", "[runner][alias_cache]") {
  alias_cache cache(opts(60s, 10s, 100));
  cache.store(cik_a, "a1", true, t0);
  cache.store(cik_a, "a2", false, t0);
  cache.store(cik_b, "b1", true, t0);
  // A key that starts with the other CIK's text is another CIK.
  const std::string longer = cik_a + "a";
  cache.store(longer, "a1", true, t0);
  // An alias containing NUL must not make one pair look like another.
  cache.store(cik_b, std::string("x\0y", 3), true, t0);
  CHECK(cache.size() == 5);

  cache.forget_cik(cik_a);
  CHECK(cache.size() == 3);
  CHECK_FALSE(cache.find(cik_a, "a1", t0).has_value());
  CHECK_FALSE(cache.find(cik_a, "a2", t0).has_value());
  CHECK(cache.find(cik_b, "b1", t0) == true);
  CHECK(cache.find(longer, "a1", t0) == true);
  CHECK(cache.find(cik_b, std::string("x\0y", 3), t0) == true);

  cache.forget_cik(cik_a);  // nothing left to forget
  CHECK(cache.size() == 3);

  // The order list stays consistent: eviction after forget still works.
  cache.set_options(opts(60s, 10s, 3));
  cache.store(cik_a, "new", true, t0 + 1s);
  CHECK(cache.size() == 3);
  CHECK(cache.find(cik_a, "new", t0 + 1s) == true);
  CHECK_FALSE(cache.find(cik_b, "b1", t0 + 1s).has_value());
}

TEST_CASE("set_options changes the TTL of later stores", "[runner][alias_cache]") {
  alias_cache cache(opts(60s, 10s, 100));
  cache.store(cik_a, "a1", true, t0);
  cache.set_options(opts(5s, 1s, 100));
  cache.store(cik_a, "a2", true, t0);
  CHECK(cache.find(cik_a, "a1", t0 + 30s) == true);
  CHECK_FALSE(cache.find(cik_a, "a2", t0 + 5s).has_value());
}

}  // namespace
}  // namespace gw::runner
