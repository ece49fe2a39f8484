#include "gateway/coap/link_format.hpp"

#include <vector>

#include <catch2/catch.hpp>

namespace coap = gw::coap;

TEST_CASE("link-format serialization (RFC 6690)", "[link_format]") {
  CHECK(coap::serialize(std::vector<coap::link>{}).empty());

  const std::vector<coap::link> two{
      {"/a", {{"rt", "x"}, {"ct", "0"}}},
      {"/b", {}},
  };
  CHECK(coap::serialize(two) == R"(</a>;rt="x";ct=0,</b>)");

  const std::vector<coap::link> flags{
      {"/1a/temp", {{"obs", ""}, {"ct", "0"}, {"if", "sensor"}}},
      {"/provision/download", {{"sz", "4096"}, {"title", "Content"}}},
  };
  CHECK(coap::serialize(flags) ==
        R"(</1a/temp>;obs;ct=0;if="sensor",</provision/download>;sz=4096;title="Content")");
}

TEST_CASE("link-format quoting", "[link_format]") {
  // A list of Content-Formats is not a single integer and goes in quotes (RFC 7252 §7.2.1).
  CHECK(coap::serialize(std::vector<coap::link>{{"/rpc", {{"ct", "50 60"}}}}) ==
        R"(</rpc>;ct="50 60")");
  // Integers are bare only for ct and sz; rt is always a quoted-string.
  CHECK(coap::serialize(std::vector<coap::link>{{"/r", {{"rt", "7"}}}}) == R"(</r>;rt="7")");
  // RFC 2616 §2.2 quoted-pair for '"' and '\'.
  CHECK(coap::serialize(std::vector<coap::link>{{"/q", {{"title", R"(say "hi" \o/)"}}}}) ==
        R"(</q>;title="say \"hi\" \\o/")");
}
