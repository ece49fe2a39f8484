#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "sim/router.hpp"
#include "sim_fixture.hpp"

using namespace sim_test;
using json = nlohmann::json;

namespace {

// Vectors, not braced json: `json j = {x}` with one json element copies x instead of making [x].
json call(std::string procedure, std::vector<json> arguments, json id = 1) {
  return {{"id", std::move(id)}, {"procedure", std::move(procedure)}, {"arguments", arguments}};
}

gw::sim::outcome send(gw::sim::state& st, const std::vector<json>& calls, gw::sim::time_point now,
                      std::string_view cik = demo_cik) {
  const json body{{"auth", {{"cik", cik}}}, {"calls", calls}};
  return gw::sim::handle(post("/onep:v1/rpc/process", body.dump()), st, now);
}

json answer_of(const response& r) {
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json; charset=utf-8");
  return json::parse(r.body);
}

json rpc(gw::sim::state& st, const std::vector<json>& calls,
         gw::sim::time_point now = at(t0 + 10)) {
  return answer_of(now_answer(send(st, calls, now)));
}

json rpc_raw(gw::sim::state& st, std::string body) {
  return answer_of(
      now_answer(gw::sim::handle(post("/onep:v1/rpc/process", std::move(body)), st, at(t0))));
}

const json temp = {{"alias", "temp"}};

}  // namespace

TEST_CASE("Whole-request errors are an object with HTTP 200", "[rpc]") {
  auto st = example_state();
  const auto code = [&](std::string body) { return rpc_raw(st, std::move(body))["error"]; };
  CHECK(code("{not json")["code"] == -1);
  CHECK(code("[]")["code"] == 400);
  CHECK(code(R"({"calls": []})")["context"] == "auth");
  CHECK(code(R"({"auth": {"cik": 5}, "calls": []})")["code"] == 400);
  CHECK(code(R"({"auth": {"cik": "x"}})")["context"] == "calls");
  CHECK(code(R"({"auth": {"cik": "x"}, "calls": [{"id": 1}]})")["code"] == 400);
  CHECK(code(R"({"auth": {"cik": "x"}, "calls": [{"id": [1], "procedure": "read"}]})")["code"] ==
        400);
  const auto bad_auth = code(R"({"auth": {"cik": "0123456789012345678901234567890123456789"},
                                 "calls": []})");
  CHECK(bad_auth["code"] == 401);
  CHECK(bad_auth["context"] == "auth");
  CHECK(bad_auth["message"].is_string());
}

TEST_CASE("Calls keep their ids; calls without id get no entry", "[rpc]") {
  auto st = example_state();
  const auto a = rpc(st, {call("write", {temp, 65.4}, "w"),
                          {{"procedure", "write"}, {"arguments", {temp, "66"}}},
                          call("read", {temp, {{"limit", 3}}}, 7)});
  REQUIRE(a.size() == 2);
  CHECK(a[0] == json{{"id", "w"}, {"status", "ok"}});
  CHECK(a[1]["id"] == 7);
  CHECK(a[1]["result"] == json{{t0 + 10, "66"}, {t0 + 10, "65.4"}, {t0, "21.5"}});
  CHECK(rpc(st, {}) == json::array());
  // Other auth forms are accepted.
  const json body{{"auth", {{"cik", demo_cik}, {"client_id", "abc"}}},
                  {"calls", std::vector<json>{call("read", {temp})}}};
  CHECK(answer_of(now_answer(gw::sim::handle(post("/onep:v1/rpc/process", body.dump()), st,
                                             at(t0))))[0]["status"] == "ok");
}

TEST_CASE("read options: starttime, endtime, sort, limit", "[rpc]") {
  auto st = example_state();
  rpc(st, {call("record", {temp, {{100, "a"}, {200, "b"}, {300, "c"}}, json::object()})});
  CHECK(rpc(st, {call("read", {temp, json::object()})})[0]["result"] == json{{t0, "21.5"}});
  CHECK(
      rpc(st, {call("read",
                    {temp, {{"starttime", 150}, {"endtime", 300}, {"limit", 10}}})})[0]["result"] ==
      json{{300, "c"}, {200, "b"}});
  CHECK(rpc(st, {call("read", {temp,
                               {{"sort", "asc"},
                                {"limit", 2},
                                {"endtime", 1000},
                                {"selection", "all"}}})})[0]["result"] ==
        json{{200, "b"}, {300, "c"}});
  CHECK(rpc(st, {call("read", {temp, {{"sort", "up"}}})})[0]["status"] == "fail");
  CHECK(rpc(st, {call("read", {{{"alias", "nope"}}})})[0]["status"] == "invalid");
  CHECK(rpc(st, {call("read", {{{"alias", "empty"}}})})[0]["result"] == json::array());
}

TEST_CASE("record: a negative timestamp counts back from now", "[rpc]") {
  auto st = example_state();
  const auto a = rpc(st, {call("record", {temp, {{-5, 1}, {-1, "two"}}, json::object()}),
                          call("recordbatch", {temp, {{t0 + 3, true}}}, 2)});
  CHECK(a[0]["status"] == "ok");
  CHECK(a[1]["status"] == "ok");
  CHECK(rpc(st, {call("read", {temp, {{"limit", 3}, {"sort", "asc"}}})})[0]["result"] ==
        json{{t0 + 3, "true"}, {t0 + 5, "1"}, {t0 + 9, "two"}});
  CHECK(rpc(st, {call("record", {temp, {{"x", 1}}})})[0]["status"] == "fail");
  CHECK(rpc(st, {call("write", {temp, json::object()})})[0]["status"] == "fail");
}

TEST_CASE("flush removes points", "[rpc]") {
  auto st = example_state();
  rpc(st, {call("record", {temp, {{100, "a"}, {200, "b"}}})});
  rpc(st, {call("flush", {temp, {{"newerthan", 150}}})});
  CHECK(rpc(st, {call("read", {temp, {{"limit", 9}}})})[0]["result"] == json{{100, "a"}});
  rpc(st, {call("flush", {temp})});
  CHECK(rpc(st, {call("read", {temp})})[0]["result"] == json::array());
}

TEST_CASE("lookup, map, unmap, create, drop, listing", "[rpc]") {
  auto st = example_state();
  const auto temp_rid = rpc(st, {call("lookup", {"alias", "temp"})})[0]["result"];
  REQUIRE(temp_rid.is_string());
  CHECK(gw::sim::is_hex40(temp_rid.get<std::string>()));
  CHECK(rpc(st, {call("lookup", {"alias", "nope"})})[0]["status"] == "invalid");
  // The RID names the same dataport as the alias.
  CHECK(rpc(st, {call("read", {temp_rid})})[0]["result"] == json{{t0, "21.5"}});

  const auto created =
      rpc(st, {call("create", {"dataport", {{"format", "float"}, {"name", "p"}}})});
  const auto rid = created[0]["result"];
  REQUIRE(rid.is_string());
  CHECK(rpc(st, {call("map", {"alias", rid, "pressure"})})[0]["status"] == "ok");
  CHECK(rpc(st, {call("map", {"alias", rid, "temp"})})[0]["status"] == "invalid");
  CHECK(rpc(st, {call("lookup", {"alias", "pressure"})})[0]["result"] == rid);
  const auto listing = rpc(st, {call("listing", {{"dataport"}, json::object()})})[0]["result"];
  CHECK(listing["dataport"].size() == 4);
  CHECK(rpc(st, {call("listing", {{"dataport", "client"}})})[0]["result"][1] == json::array());
  CHECK(rpc(st, {call("listing", {{{"alias", ""}}, {"datarule"}, json::object()})})[0]["result"] ==
        json{{"datarule", json::array()}});
  CHECK(rpc(st, {call("unmap", {"alias", "pressure"})})[0]["status"] == "ok");
  CHECK(rpc(st, {call("unmap", {"alias", "pressure"})})[0]["status"] == "invalid");
  CHECK(rpc(st, {call("drop", {rid})})[0]["status"] == "ok");
  CHECK(rpc(st, {call("drop", {rid})})[0]["status"] == "invalid");
  CHECK(rpc(st, {call("drop", {{{"alias", ""}}})})[0]["status"] == "restricted");
  CHECK(rpc(st, {call("create", {"client", json::object()})})[0]["status"] == "error");
}

TEST_CASE("info describes the client and a dataport", "[rpc]") {
  auto st = example_state();
  const auto client = rpc(st, {call("info", {{{"alias", ""}}, json::object()})})[0]["result"];
  CHECK(client["basic"]["type"] == "client");
  CHECK(client["key"] == demo_cik);
  const auto port = rpc(st, {call("info", {temp, json::object()})})[0]["result"];
  CHECK(port["basic"]["type"] == "dataport");
  CHECK(port["basic"]["modified"] == t0);
  CHECK(port["aliases"] == json{"temp"});
}

TEST_CASE("An unsupported procedure answers status error naming it", "[rpc]") {
  auto st = example_state();
  const auto a = rpc(st, {call("share", {temp})});
  CHECK(a[0]["status"] == "error");
  CHECK(a[0]["error"]["message"].get<std::string>().find("share") != std::string::npos);
}

TEST_CASE("wait answers when a newer point arrives; earlier calls run once", "[rpc][wait]") {
  auto st = example_state();
  auto pending =
      deferred_of(send(st,
                       {call("write", {{{"alias", "humidity"}}, "41"}, 1),
                        call("wait", {temp, {{"timeout", 5000}}}, 2), call("read", {temp}, 3)},
                       at(t0 + 10)));
  CHECK(pending->deadline() == at(t0 + 15));
  CHECK_FALSE(pending->poll(st, at(t0 + 11)));
  auto* d = st.find_by_cik(demo_cik);
  st.append(*gw::sim::state::find_alias(*d, "temp"), t0 + 12, "25");
  const auto r = pending->poll(st, at(t0 + 12));
  REQUIRE(r);
  const auto a = answer_of(*r);
  CHECK(a[0]["status"] == "ok");
  CHECK(a[1]["result"] == json{t0 + 12, "25"});
  CHECK(a[2]["result"] == json{{t0 + 12, "25"}});
  // The write before the wait ran exactly once.
  CHECK(gw::sim::state::find_alias(*d, "humidity")->points.size() == 2);
}

TEST_CASE("wait expires at its timeout; since answers at once", "[rpc][wait]") {
  auto st = example_state();
  auto pending = deferred_of(send(st, {call("wait", {temp, {{"timeout", 300}}})}, at(t0 + 10)));
  CHECK_FALSE(pending->poll(st, at(t0 + 10, 299)));
  const auto r = pending->poll(st, at(t0 + 10, 300));
  REQUIRE(r);
  CHECK(answer_of(*r)[0] == json{{"id", 1}, {"status", "expire"}});

  CHECK(rpc(st, {call("wait", {temp, {{"since", t0 - 1}}})})[0]["result"] == json{t0, "21.5"});
  CHECK(rpc(st, {call("wait", {{{"alias", "nope"}}, json::object()})})[0]["status"] == "invalid");
  // The default timeout is 30 s.
  auto longer = deferred_of(send(st, {call("wait", {temp})}, at(t0 + 10)));
  CHECK(longer->deadline() == at(t0 + 40));
}
