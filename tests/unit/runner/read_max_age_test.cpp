// A Read's answer carries Max-Age (coap.read_max_age, 0 by default): a dataport value may change
// at any moment, and RFC 7252 §5.10.5's default of 60 s would let clients and proxies reuse it.
#include <catch2/catch.hpp>

#include "tests/unit/runner/runner_rig.hpp"

namespace gw::runner::test {
namespace {

using namespace translate;

TEST_CASE_METHOD(fixture, "Read answers carry Max-Age 0 unless configured", "[runner]") {
  auto d = make();
  client.answer(200, "temp=26.1", {{"Content-Type", form_type}});
  auto msg = run(d, get_value("temp"));
  CHECK(msg.code == content);
  REQUIRE(msg.find_all(coap::opt::max_age).size() == 1);
  CHECK(msg.uint_option(coap::opt::max_age) == 0u);

  // An empty dataport is a value too.
  client.answer(204);
  msg = run(d, get_value("temp"));
  CHECK(msg.payload.empty());
  CHECK(msg.uint_option(coap::opt::max_age) == 0u);

  options.read_max_age_s = 30;
  d.set_options(options);
  client.answer(200, "temp=27", {{"Content-Type", form_type}});
  msg = run(d, get_value("temp"));
  CHECK(msg.uint_option(coap::opt::max_age) == 30u);
}

TEST_CASE_METHOD(fixture, "Writes and errors carry no read Max-Age", "[runner]") {
  auto d = make();
  client.answer(200, lookup_ok);
  client.answer(204);
  auto msg = run(d, post_value("temp", "1"));
  CHECK(msg.code == changed);
  CHECK_FALSE(msg.has(coap::opt::max_age));
}

}  // namespace
}  // namespace gw::runner::test
