#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "sim/control.hpp"
#include "sim_fixture.hpp"

using namespace sim_test;
using gw::sim::control;
using gw::sim::endpoint;
using gw::sim::fault;
using json = nlohmann::json;

namespace {

json get_json(control& c, gw::sim::state& st, std::string target) {
  const auto r = c.handle(get(std::move(target)), st);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

unsigned add_fault(control& c, gw::sim::state& st, std::string body) {
  return c.handle(post("/_sim/fault", std::move(body)), st).status;
}

}  // namespace

TEST_CASE("stats count connections and every endpoint, zeros when unused", "[control]") {
  control c;
  gw::sim::state st;
  c.on_connection();
  c.on_connection();
  c.on_request(endpoint::write, post("/onep:v1/stack/alias", "temp=1"));
  c.on_response(endpoint::write, 0);
  c.on_request(endpoint::read, get("/onep:v1/stack/alias?temp"));
  c.on_response(endpoint::read, 9);
  c.on_request(endpoint::other, get("/nowhere"));
  c.on_wait_started(endpoint::longpoll, "/onep:v1/stack/alias?temp");
  c.on_wait_started(endpoint::rpc, "/onep:v1/rpc/process");
  const auto s = get_json(c, st, "/_sim/stats");
  CHECK(s["connections"] == 2);
  CHECK(s["longpolls_active"] == 1);
  CHECK(s["waits_active"] == 1);
  CHECK(s["longpolls_by_target"] == json{{"/onep:v1/stack/alias?temp", 1}});
  CHECK(s["endpoints"]["write"] == json{{"requests", 1}, {"bytes_in", 6}, {"bytes_out", 0}});
  CHECK(s["endpoints"]["read"] == json{{"requests", 1}, {"bytes_in", 0}, {"bytes_out", 9}});
  for (const auto* name : {"write", "read", "hybrid", "longpoll", "activate", "list", "info",
                           "download", "timestamp", "rpc"}) {
    CHECK(s["endpoints"].contains(name));
  }
  CHECK(s["endpoints"].size() == 10);
  c.on_wait_ended(endpoint::longpoll, "/onep:v1/stack/alias?temp");
  CHECK(get_json(c, st, "/_sim/stats")["longpolls_active"] == 0);
  CHECK(get_json(c, st, "/_sim/stats")["longpolls_by_target"].empty());
}

TEST_CASE("requests keeps the last 1000, oldest first, with lower-case header names", "[control]") {
  control c;
  gw::sim::state st;
  for (int i = 0; i < 1005; ++i) {
    c.on_request(endpoint::write,
                 post("/onep:v1/stack/alias", "n=" + std::to_string(i),
                      {{"X-Exosite-CIK", "abc"}, {"Accept", "a"}, {"ACCEPT", "b"}}));
  }
  const auto log = get_json(c, st, "/_sim/requests");
  REQUIRE(log.size() == 1000);
  CHECK(log[0]["body"] == "n=5");
  CHECK(log[999]["body"] == "n=1004");
  CHECK(log[0]["method"] == "POST");
  CHECK(log[0]["target"] == "/onep:v1/stack/alias");
  CHECK(log[0]["headers"]["x-exosite-cik"] == "abc");
  CHECK(log[0]["headers"]["accept"] == "a, b");
}

TEST_CASE("reset clears counters, log and faults but not the data", "[control]") {
  control c;
  auto st = example_state();
  c.on_connection();
  c.on_request(endpoint::rpc, post("/onep:v1/rpc/process", "{}"));
  REQUIRE(add_fault(c, st, R"({"action": "close"})") == 204);
  CHECK(c.handle(post("/_sim/reset", ""), st).status == 204);
  const auto s = get_json(c, st, "/_sim/stats");
  CHECK(s["connections"] == 0);
  CHECK(s["endpoints"]["rpc"]["requests"] == 0);
  CHECK(get_json(c, st, "/_sim/requests").empty());
  CHECK_FALSE(c.take_fault("/onep:v1/rpc/process"));
  CHECK(get_json(c, st, "/_sim/dataport?cik=" + std::string(demo_cik) + "&alias=temp")["exists"] ==
        true);
}

TEST_CASE("faults: first added that matches applies, times counts down", "[control]") {
  control c;
  gw::sim::state st;
  REQUIRE(add_fault(c, st, R"({"match": "/provision/", "action": "status", "status": 503,
                                "headers": {"Retry-After": "7"}, "body": "busy", "times": 2})") ==
          204);
  REQUIRE(add_fault(c, st, R"({"delay_ms": 250})") == 204);
  auto f = c.take_fault("/provision/download?vendor=demo");
  REQUIRE(f);
  CHECK(f->act == fault::action::status);
  CHECK(f->status == 503);
  CHECK(f->headers == gw::sim::header_list{{"Retry-After", "7"}});
  CHECK(f->body == "busy");
  CHECK(c.take_fault("/provision/activate")->act == fault::action::status);
  // Used up: the catch-all delay fault is next.
  f = c.take_fault("/provision/activate");
  REQUIRE(f);
  CHECK(f->act == fault::action::none);
  CHECK(f->delay == std::chrono::milliseconds(250));
  CHECK(c.take_fault("/timestamp"));  // unlimited
  CHECK(c.handle({"DELETE", "/_sim/fault", {}, {}}, st).status == 204);
  CHECK_FALSE(c.take_fault("/timestamp"));
}

TEST_CASE("fault bodies are validated", "[control]") {
  control c;
  gw::sim::state st;
  CHECK(add_fault(c, st, "") == 204);  // every field defaults
  CHECK(add_fault(c, st, "nope") == 400);
  CHECK(add_fault(c, st, R"({"action": "explode"})") == 400);
  CHECK(add_fault(c, st, R"({"status": 42})") == 400);
  CHECK(add_fault(c, st, R"({"times": 0})") == 400);
  CHECK(add_fault(c, st, R"({"delay_ms": -1})") == 400);
  CHECK(add_fault(c, st, R"({"headers": {"A": 1}})") == 400);
  CHECK(add_fault(c, st, R"({"colour": "red"})") == 400);
  CHECK(add_fault(c, st, R"({"action": "garbage", "match": "/onep:v1/"})") == 204);
  CHECK(c.take_fault("/onep:v1/rpc/process")->act == fault::action::none);  // the "" one first
}

TEST_CASE("dataport view shows every point, or exists false", "[control]") {
  control c;
  auto st = example_state();
  const auto temp = get_json(c, st, "/_sim/dataport?cik=" + std::string(demo_cik) + "&alias=temp");
  CHECK(temp == json{{"exists", true}, {"values", {{t0, "21.5"}}}});
  const auto empty =
      get_json(c, st, "/_sim/dataport?cik=" + std::string(demo_cik) + "&alias=empty");
  CHECK(empty == json{{"exists", true}, {"values", json::array()}});
  CHECK(get_json(c, st, "/_sim/dataport?cik=" + std::string(demo_cik) + "&alias=nope")["exists"] ==
        false);
  CHECK(get_json(c, st, "/_sim/dataport?cik=00&alias=temp")["exists"] == false);
}

TEST_CASE("control paths and methods", "[control]") {
  control c;
  gw::sim::state st;
  CHECK(control::is_control_path(get("/_sim/stats")));
  CHECK_FALSE(control::is_control_path(get("/_simulated")));
  CHECK_FALSE(control::is_control_path(get("/onep:v1/stack/alias?_sim/")));
  CHECK(c.handle(post("/_sim/stats", ""), st).status == 405);
  CHECK(c.handle(get("/_sim/reset"), st).status == 405);
  CHECK(c.handle(get("/_sim/nothing"), st).status == 404);
}
