// coap.read_max_age (Max-Age of Read answers) and block.reserve_bytes (room held for a POST's
// answer while it runs): defaults, values and refusals.
#include <catch2/catch.hpp>

#include "conf/load.hpp"

namespace gw::conf {
namespace {

std::vector<std::string> errors_of(std::string_view yaml) {
  load_result r = load_string(yaml, "gw.yaml");
  std::vector<std::string> out;
  if (!r.ok()) {
    for (const config_error& e : r.errors()) out.push_back(e.to_string());
  }
  return out;
}

using lines = std::vector<std::string>;

TEST_CASE("coap.read_max_age: 0 by default, whole seconds", "[conf]") {
  CHECK(config{}.coap.read_max_age == duration{0});
  auto r = load_string("coap:\n  read_max_age: 30s\n", "gw.yaml");
  REQUIRE(r.ok());
  CHECK(r.get().coap.read_max_age == duration{30000});
  CHECK(errors_of("coap:\n  read_max_age: 1500ms\n") ==
        lines{"gw.yaml:2: coap.read_max_age: must be whole seconds: Max-Age is sent in seconds "
              "(RFC 7252 §5.10.5)"});
  CHECK(errors_of("coap:\n  read_max_age: 2d\n") ==
        lines{"gw.yaml:2: coap.read_max_age: 2d is out of range (0s to 1d)"});
}

TEST_CASE("block.reserve_bytes: 16KiB by default, 0 to 64MiB", "[conf]") {
  CHECK(config{}.block.reserve_bytes == 16 * 1024);
  auto r = load_string("block:\n  reserve_bytes: 64KiB\n", "gw.yaml");
  REQUIRE(r.ok());
  CHECK(r.get().block.reserve_bytes == 64 * 1024);
  // More than cache_bytes is held as all of it (gateway/core/block_layer.hpp), not refused.
  CHECK(errors_of("block:\n  cache_bytes: 0\n  reserve_bytes: 1KiB\n").empty());
  CHECK(errors_of("block:\n  reserve_bytes: 65MiB\n") ==
        lines{"gw.yaml:2: block.reserve_bytes: 65MiB is out of range (0 to 64MiB)"});
}

}  // namespace
}  // namespace gw::conf
