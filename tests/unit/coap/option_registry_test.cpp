#include "gateway/coap/option_registry.hpp"

#include <algorithm>
#include <set>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "gateway/coap/option_number.hpp"

namespace coap = gw::coap;
using coap::option_format;

namespace {

// Written out from RFC 7252 §5.10 Table 4, RFC 7641 §2, RFC 7959 §2.1/§4, RFC 7967 §2 and
// RFC 9175 §2.2/§3.2 rather than derived from the number, so that the bit helpers are checked
// against the documents.
struct expected {
  std::uint16_t number;
  std::string_view name;
  bool critical;
  bool unsafe;
  bool no_cache_key;
  bool repeatable;
  option_format format;
  std::uint16_t min_length;
  std::uint16_t max_length;
};

const std::vector<expected> table{
    {1, "If-Match", true, false, false, true, option_format::opaque, 0, 8},
    {3, "Uri-Host", true, true, false, false, option_format::string, 1, 255},
    {4, "ETag", false, false, false, true, option_format::opaque, 1, 8},
    {5, "If-None-Match", true, false, false, false, option_format::empty, 0, 0},
    {6, "Observe", false, true, false, false, option_format::uint, 0, 3},
    {7, "Uri-Port", true, true, false, false, option_format::uint, 0, 2},
    {8, "Location-Path", false, false, false, true, option_format::string, 0, 255},
    {11, "Uri-Path", true, true, false, true, option_format::string, 0, 255},
    {12, "Content-Format", false, false, false, false, option_format::uint, 0, 2},
    {14, "Max-Age", false, true, false, false, option_format::uint, 0, 4},
    {15, "Uri-Query", true, true, false, true, option_format::string, 0, 255},
    {17, "Accept", true, false, false, false, option_format::uint, 0, 2},
    {20, "Location-Query", false, false, false, true, option_format::string, 0, 255},
    {23, "Block2", true, true, false, false, option_format::uint, 0, 3},
    {27, "Block1", true, true, false, false, option_format::uint, 0, 3},
    {28, "Size2", false, false, true, false, option_format::uint, 0, 4},
    {35, "Proxy-Uri", true, true, false, false, option_format::string, 1, 1034},
    {39, "Proxy-Scheme", true, true, false, false, option_format::string, 1, 255},
    {60, "Size1", false, false, true, false, option_format::uint, 0, 4},
    {252, "Echo", false, false, true, false, option_format::opaque, 1, 40},
    {258, "No-Response", false, true, false, false, option_format::uint, 0, 1},
    {292, "Request-Tag", false, false, false, true, option_format::opaque, 0, 8},
};

}  // namespace

TEST_CASE("the registry holds exactly the known options with their RFC properties", "[registry]") {
  const auto all = coap::all_options();
  REQUIRE(all.size() == table.size());
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& want = table[i];
    INFO(want.name);
    const coap::option_def* def = coap::find_option(want.number);
    REQUIRE(def != nullptr);
    CHECK(def == &all[i]);
    CHECK(def->number == want.number);
    CHECK(def->name == want.name);
    CHECK(def->format == want.format);
    CHECK(def->min_length == want.min_length);
    CHECK(def->max_length == want.max_length);
    CHECK(def->repeatable == want.repeatable);
    CHECK(coap::is_critical(want.number) == want.critical);
    CHECK(coap::is_unsafe(want.number) == want.unsafe);
    CHECK(coap::is_no_cache_key(want.number) == want.no_cache_key);
  }
}

TEST_CASE("If-Match and If-None-Match are known but not supported", "[registry]") {
  // RFC 7252 §5.10.8: preconditions on a version the upstream never offers; the endpoint
  // screens them like unrecognised options (§5.4.1).
  for (const auto& def : coap::all_options()) {
    INFO(def.name);
    const bool precondition =
        def.number == coap::opt::if_match || def.number == coap::opt::if_none_match;
    CHECK(def.supported == !precondition);
  }
}

TEST_CASE("every named option number is in the registry", "[registry]") {
  namespace opt = coap::opt;
  for (const auto n :
       {opt::if_match,       opt::uri_host,     opt::etag,          opt::if_none_match,
        opt::observe,        opt::uri_port,     opt::location_path, opt::uri_path,
        opt::content_format, opt::max_age,      opt::uri_query,     opt::accept,
        opt::location_query, opt::block2,       opt::block1,        opt::size2,
        opt::proxy_uri,      opt::proxy_scheme, opt::size1,         opt::echo,
        opt::no_response,    opt::request_tag}) {
    INFO(n);
    CHECK(coap::find_option(n) != nullptr);
  }
}

TEST_CASE("unknown numbers are not found; the bit rules still classify them", "[registry]") {
  for (const std::uint16_t n : {0, 2, 9, 10, 13, 16, 59, 61, 251, 65535}) {
    INFO(n);
    CHECK(coap::find_option(n) == nullptr);
  }
  // RFC 7252 §5.4.1: an unrecognised odd number is critical (a request gets 4.02).
  CHECK(coap::is_critical(9));
  CHECK_FALSE(coap::is_critical(10));
  CHECK(coap::is_unsafe(2));
  // §5.4.6: NoCacheKey only applies to safe-to-forward numbers.
  CHECK(coap::is_no_cache_key(0x1c));
  CHECK(coap::is_no_cache_key(0xfc));
  CHECK(coap::is_no_cache_key(0x1d));  // critical and NoCacheKey are independent
  CHECK_FALSE(coap::is_no_cache_key(0x1e));
  CHECK_FALSE(coap::is_no_cache_key(0x0c));
}

TEST_CASE("the registry is sorted and names are unique", "[registry]") {
  const auto all = coap::all_options();
  CHECK(std::is_sorted(all.begin(), all.end(),
                       [](const auto& a, const auto& b) { return a.number < b.number; }));
  std::set<std::string_view> names;
  for (const auto& d : all) {
    names.insert(d.name);
    CHECK(d.min_length <= d.max_length);
  }
  CHECK(names.size() == all.size());
}
