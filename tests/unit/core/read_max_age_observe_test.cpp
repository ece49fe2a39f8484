// A Read's answer carries Max-Age 0 (translate::render_value); on an Observe registration the
// endpoint replaces it with observe.max_age, and notifications carry only that one (RFC 7641
// §4.2: Max-Age says how long the observer may take the value as fresh).
#include <catch2/catch.hpp>

#include "tests/unit/core/endpoint_rig.hpp"

using namespace gw::test;

TEST_CASE("the read's Max-Age 0 is replaced on registration answers and notifications") {
  core::endpoint_config cfg;
  cfg.observe.max_age = 90s;
  rig r(cfg);
  coap::message req;
  req.type = coap::type::con;
  req.code = coap::codes::get;
  req.mid = 7;
  req.token = {0xA1};
  req.add_option(coap::opt::observe, coap::bytes{});
  req.add_option(coap::opt::uri_path, "1a");
  req.add_option(coap::opt::uri_path, "temp");
  req.add_option(coap::opt::uri_query, "a32c85ba9dda45823be416246cf8b433baa068d7");
  r.receive(req, r.t0);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  auto read = coap::make_response(fw[0].request, coap::codes::content);
  read.add_uint_option(coap::opt::content_format, 0);
  read.add_uint_option(coap::opt::max_age, 0);  // what a Read renders
  read.set_payload("v0");
  r.ep.on_response(fw[0].id, read, r.t0);

  auto out = r.sent();
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].has(coap::opt::observe));
  CHECK(out[0].find_all(coap::opt::max_age).size() == 1);
  CHECK(out[0].uint_option(coap::opt::max_age) == 90u);

  auto change = read;
  change.set_payload("v1");
  r.ep.notify(*observable(req), change, r.t0 + 1s);
  out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].find_all(coap::opt::max_age).size() == 1);
  CHECK(out[0].uint_option(coap::opt::max_age) == 90u);

  // A plain GET of the same resource keeps the read's 0.
  auto plain = req;
  plain.mid = 8;
  plain.token = {0xB2};
  plain.remove_options(coap::opt::observe);
  r.receive(plain, r.t0 + 2s);
  fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  r.ep.on_response(fw[0].id, read, r.t0 + 2s);
  out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK_FALSE(out[0].has(coap::opt::observe));
  CHECK(out[0].uint_option(coap::opt::max_age) == 0u);
}
