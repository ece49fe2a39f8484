// RFC 7252 §5.4.1: the message layer's one screening path for options a request may not carry.
// A CON gets 4.02 Bad Option; a NON is rejected with an RST (§4.3), not answered.
#include <catch2/catch.hpp>

#include "tests/unit/core/endpoint_rig.hpp"

using namespace gw::test;

TEST_CASE("If-Match and If-None-Match in a CON request are 4.02 and never forwarded") {
  rig r;
  // §5.10.8: the upstream offers no version to compare, so neither precondition can be
  // evaluated; ignoring them would apply a conditional write unconditionally.
  auto if_match = request(coap::type::con, coap::codes::post, 3);
  if_match.add_option(coap::opt::if_match, coap::bytes{0x01, 0x02});
  r.receive(if_match, r.t0);
  auto if_none_match = request(coap::type::con, coap::codes::post, 4);
  if_none_match.add_option(coap::opt::if_none_match, coap::bytes{});
  r.receive(if_none_match, r.t0);
  auto empty_if_match = request(coap::type::con, coap::codes::get, 5);
  empty_if_match.add_option(coap::opt::if_match, coap::bytes{});
  r.receive(empty_if_match, r.t0);

  CHECK(r.ep.take_forwards().empty());
  auto out = r.sent();
  REQUIRE(out.size() == 3);
  for (std::size_t i = 0; i < out.size(); ++i) {
    INFO(i);
    CHECK(out[i].type == coap::type::ack);
    CHECK(out[i].mid == 3 + i);
    CHECK(out[i].code == coap::codes::bad_option);
  }
  CHECK(out[0].payload_text() == "If-Match is not supported");
  CHECK(out[1].payload_text() == "If-None-Match is not supported");
  CHECK(r.ep.stats().rejected == 3);
}

TEST_CASE("a NON request with an unrecognised critical option is rejected with an RST") {
  rig r;
  auto unknown = request(coap::type::non, coap::codes::get, 0x0101);
  unknown.add_option(9, coap::bytes{1});  // unassigned, critical
  r.receive(unknown, r.t0);
  auto if_match = request(coap::type::non, coap::codes::post, 0x0102);
  if_match.add_option(coap::opt::if_match, coap::bytes{0x01});
  r.receive(if_match, r.t0);

  CHECK(r.ep.take_forwards().empty());
  auto out = r.sent();
  REQUIRE(out.size() == 2);
  CHECK(out[0].type == coap::type::rst);
  CHECK(out[0].code == coap::codes::empty);
  CHECK(out[0].mid == 0x0101);
  CHECK(out[0].token.empty());
  CHECK(out[1].type == coap::type::rst);
  CHECK(out[1].mid == 0x0102);
  CHECK(r.ep.stats().rst_sent == 2);

  // A copy is a duplicate: rejected the same way, still never forwarded.
  r.receive(unknown, r.t0 + 100ms);
  CHECK(r.ep.take_forwards().empty());
  out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == coap::type::rst);
  CHECK(out[0].mid == 0x0101);

  // An unrecognised elective option is still only dropped.
  auto elective = request(coap::type::non, coap::codes::get, 0x0103);
  elective.add_option(2050, coap::bytes{1});
  r.receive(elective, r.t0);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  CHECK_FALSE(fw[0].request.has(2050));
}
