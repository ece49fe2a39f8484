// The answers real clients expect: method codes no route takes (RFC 7252 §5.8), HTTP status
// mapping (RFC 7252 §10.1, RFC 8075 §7, RFC 8132), and the Max-Age of a Read (§5.10.5).
#include <catch2/catch.hpp>

#include "tests/unit/translate/translate_test_support.hpp"
#include "translate/dataport.hpp"
#include "translate/route_table.hpp"
#include "translate/status_map.hpp"

namespace gw::translate {
namespace {

using namespace coap::codes;

TEST_CASE("a method no route takes is 4.05 on every path", "[translate][routes]") {
  const std::vector<std::vector<std::string>> paths = {
      {"nowhere"}, {"1a", "temp"}, {"1a"}, {}, {"provision", "x"}, {"ts"}, {"rpc"}};
  // FETCH, PATCH, iPATCH (RFC 8132), PUT and DELETE are on no route; 0.31 is unassigned.
  for (auto method : {fetch, patch, ipatch, put, del, coap::code{0, 31}, coap::code{0, 8}}) {
    for (const auto& path : paths) {
      INFO(method.to_string() << " " << path.size() << " segments");
      const auto found = find_route(method, path);
      CHECK_FALSE(found.match.has_value());
      CHECK(found.error == method_not_allowed);
    }
  }
  // A method some route takes keeps 4.04 for an unknown path.
  CHECK(find_route(get, {"nowhere"}).error == not_found);
  CHECK(find_route(post, {"nowhere"}).error == not_found);
}

TEST_CASE("201 is 2.01 Created on POST routes, 2.05 elsewhere", "[translate][status]") {
  for (auto p : {procedure::write, procedure::multi, procedure::activate, procedure::rpc}) {
    INFO(to_string(p));
    CHECK(method_of(p) == post);
    CHECK(map_status(p, 201) == created);
  }
  for (auto p : {procedure::read, procedure::timestamp, procedure::list_content}) {
    INFO(to_string(p));
    CHECK(map_status(p, 201) == content);
  }
  // A success the procedure does not render itself goes out without a diagnostic.
  const auto request = test::make_request(post, {"1a", "temp"}, {test::cik});
  auto msg = error_response(request, procedure::write, test::make_answer(201, ""), 0);
  CHECK(msg.code == created);
  CHECK(msg.payload.empty());
  CHECK(msg.token == test::token);
}

TEST_CASE("3xx is 5.02 and 422 is 4.22 Unprocessable Entity", "[translate][status]") {
  CHECK(unprocessable_entity == coap::code{4, 22});
  CHECK(unprocessable_entity.to_string() == "4.22");
  for (auto p :
       {procedure::write, procedure::read, procedure::multi, procedure::rpc, procedure::download}) {
    INFO(to_string(p));
    // RFC 8132 §2.2: the request was well-formed but semantically wrong.
    CHECK(map_status(p, 422) == unprocessable_entity);
    // The gateway follows no redirect: the upstream's answer is not usable.
    for (unsigned status : {300u, 301u, 302u, 303u, 304u, 307u, 308u}) {
      INFO(status);
      CHECK(map_status(p, status) == bad_gateway);
    }
  }
  const auto request = test::make_request(post, {"rpc"});
  auto msg = error_response(request, procedure::rpc, test::make_answer(422, "{}"), 0);
  CHECK(msg.code == unprocessable_entity);
  CHECK(test::text(msg) == "upstream answered 422");
}

TEST_CASE("a Read's answer says how long it may be reused", "[translate][dataport]") {
  const auto request = test::make_request(get, {"1a", "temp"}, {test::cik});
  // RFC 7252 §5.10.5: without Max-Age the value could be reused for 60 s.
  auto msg = render_value(request, "26.1", 0);
  const auto max_ages = msg.find_all(coap::opt::max_age);
  REQUIRE(max_ages.size() == 1);
  CHECK(msg.uint_option(coap::opt::max_age) == 0u);
  CHECK(test::text(msg) == "26.1");
  CHECK(render_value(request, "", 30).uint_option(coap::opt::max_age) == 30u);
}

}  // namespace
}  // namespace gw::translate
