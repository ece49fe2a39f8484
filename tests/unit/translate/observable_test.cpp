// Which requests name an observable resource (RFC 7641 §1.2, §4.1), and the one key they get.
#include "translate/observable.hpp"

#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/unit/translate/translate_test_support.hpp"
#include "translate/route_table.hpp"

namespace gw::translate {
namespace {

using namespace coap::codes;
using test::cik;
using test::make_request;

std::string upper(std::string s) {
  for (auto& c : s)
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

TEST_CASE("a dataport read with a CIK is observable as (CIK, alias)", "[translate][observe]") {
  struct row {
    std::string name;
    std::vector<std::string> queries;
  };
  const std::vector<row> rows = {
      {"text CIK", {cik}},
      {"upper-case CIK", {upper(cik)}},
      {"binary CIK", {test::binary_cik()}},
      {"junk after the CIK", {cik, "junk", "x=1"}},
      {"binary CIK and junk", {test::binary_cik(), "&/"}},
  };
  for (const auto& r : rows) {
    INFO(r.name);
    auto key = observable_resource(make_request(get, {"1a", "temp"}, r.queries));
    REQUIRE(key.has_value());
    CHECK(key->cik == cik);
    CHECK(key->alias == "temp");
  }
}

TEST_CASE("every spelling of one dataport is one resource; other dataports are others",
          "[translate][observe]") {
  auto a = observable_resource(make_request(get, {"1a", "temp"}, {cik}));
  CHECK(a == observable_resource(make_request(get, {"1a", "temp"}, {upper(cik), "j"})));
  CHECK(a == observable_resource(make_request(get, {"1a", "temp"}, {test::binary_cik()})));
  CHECK(a != observable_resource(make_request(get, {"1a", "humidity"}, {cik})));
  CHECK(a != observable_resource(
                 make_request(get, {"1a", "temp"}, {"0123456789abcdef0123456789abcdef01234567"})));
}

TEST_CASE("nothing else is observable", "[translate][observe]") {
  struct row {
    std::string name;
    coap::message request;
  };
  const std::vector<row> rows = {
      {"timestamp", make_request(get, {"ts"}, {cik})},
      {"discovery", make_request(get, {".well-known", "core"})},
      {"list content", make_request(get, {"provision", "download", "v", "m"}, {cik})},
      {"content info", make_request(get, {"provision", "download", "v", "m", "id", "info"}, {cik})},
      {"download", make_request(get, {"provision", "download", "v", "m", "id"}, {cik})},
      {"activate", make_request(post, {"provision", "activate", "v", "m", "sn"})},
      {"rpc", make_request(post, {"rpc"}, {cik})},
      {"write", make_request(post, {"1a", "temp"}, {cik})},
      {"multiple read/write", make_request(post, {"1a"}, {cik})},
      {"read without a CIK", make_request(get, {"1a", "temp"})},
      {"read with a CIK that is neither form", make_request(get, {"1a", "temp"}, {"abc"})},
      {"read with the CIK not first", make_request(get, {"1a", "temp"}, {"x", cik})},
      {"read of an empty alias", make_request(get, {"1a", ""}, {cik})},
      {"no route", make_request(get, {"nope"}, {cik})},
      {"PUT on a read path", make_request(put, {"1a", "temp"}, {cik})},
  };
  for (const auto& r : rows) {
    INFO(r.name);
    CHECK_FALSE(observable_resource(r.request).has_value());
  }
}

TEST_CASE("only the dataport read route is marked observable", "[translate][observe]") {
  std::vector<procedure> marked;
  for (const auto& r : routes())
    if (r.observable) marked.push_back(r.procedure);
  CHECK(marked == std::vector<procedure>{procedure::read});
}

}  // namespace
}  // namespace gw::translate
