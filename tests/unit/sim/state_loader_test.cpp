#include <catch2/catch.hpp>

#include "sim/state_loader.hpp"
#include "sim_fixture.hpp"

using gw::sim::load_state_string;
using sim_test::t0;

namespace {

std::string load_error(std::string_view text) {
  const auto r = load_state_string(text, "s.yaml", t0);
  REQUIRE(r.has_error());
  return r.error().message;
}

}  // namespace

TEST_CASE("The example state holds what the tests and the demo rely on", "[loader]") {
  auto st = sim_test::example_state();
  auto* demo = st.find_by_cik(sim_test::demo_cik);
  REQUIRE(demo);
  CHECK(demo->vendor == "demo");
  CHECK(demo->model == "gateway");
  CHECK(demo->sn == "0001");
  CHECK(gw::sim::state::find_alias(*demo, "temp")->latest()->value == "21.5");
  CHECK(gw::sim::state::find_alias(*demo, "temp")->latest()->ts == t0);
  CHECK(gw::sim::state::find_alias(*demo, "humidity")->latest()->value == "40");
  REQUIRE(gw::sim::state::find_alias(*demo, "empty"));
  CHECK(gw::sim::state::find_alias(*demo, "empty")->points.empty());

  auto* waiting = st.find_device("demo", "gateway", "0002");
  REQUIRE(waiting);
  CHECK_FALSE(waiting->activated());
  auto* active = st.find_device("demo", "gateway", "0003");
  REQUIRE(active);
  CHECK(active->activated());
  CHECK(active->cik != demo->cik);

  const auto* files = st.content("demo", "gateway");
  REQUIRE(files);
  const auto size_of = [&](std::string_view id) -> long {
    for (const auto& f : *files) {
      if (f.id == id) return static_cast<long>(f.bytes.size());
    }
    return -1;
  };
  CHECK(size_of("firmware.bin") == 5000);
  CHECK(size_of("empty.bin") == 0);
  CHECK(size_of("k1.bin") == 1024);
  CHECK(size_of("k1p1.bin") == 1025);
  CHECK(size_of("readme.txt") > 0);
  CHECK(files->front().bytes == gw::sim::generated_bytes(5000));
  CHECK(files->front().type == "application/octet-stream");
}

TEST_CASE("Values: a scalar, a list stamped one second apart, [ts, value] points", "[loader]") {
  const auto r = load_state_string(R"(
devices:
  - {vendor: v, model: m, sn: "1", cik: ABCDEF0123456789abcdef0123456789ABCDEF01,
     dataports: {one: 7, list: [a, b, c], points: [[100, x], [-60, y]], none: ~}}
content:
  - vendor: v
    model: m
    files:
      - {id: b64, base64: "aGVsbG8=", type: text/plain, meta: m1, updated: 5}
      - {id: gen, size: 300}
)",
                                   "s.yaml", t0);
  REQUIRE(r.has_value());
  auto st = *r;
  auto* d = st.find_by_cik("abcdef0123456789abcdef0123456789abcdef01");
  REQUIRE(d);
  CHECK(d->cik == "abcdef0123456789abcdef0123456789abcdef01");
  const auto& one = gw::sim::state::find_alias(*d, "one")->points;
  REQUIRE(one.size() == 1);
  CHECK(one[0].value == "7");
  const auto& list = gw::sim::state::find_alias(*d, "list")->points;
  REQUIRE(list.size() == 3);
  CHECK(list[0].ts == t0 - 2);
  CHECK(list[2].ts == t0);
  CHECK(list[2].value == "c");
  const auto& points = gw::sim::state::find_alias(*d, "points")->points;
  REQUIRE(points.size() == 2);
  CHECK(points[0].ts == 100);
  CHECK(points[1].ts == t0 - 60);
  CHECK(gw::sim::state::find_alias(*d, "none")->points.empty());
  const auto& files = *st.content("v", "m");
  CHECK(files[0].bytes == "hello");
  CHECK(files[0].meta == "m1");
  CHECK(files[0].updated == 5);
  CHECK(files[1].bytes.size() == 300);
  CHECK(static_cast<unsigned char>(files[1].bytes[251]) == 0);
  CHECK(static_cast<unsigned char>(files[1].bytes[299]) == 48);
  CHECK(files[1].updated == t0);
}

TEST_CASE("JSON state files load too", "[loader]") {
  const auto r = load_state_string(
      R"({"devices": [{"vendor": "v", "model": "m", "sn": "9", "dataports": {"a": ["1"]}}]})",
      "s.json", t0);
  REQUIRE(r.has_value());
  CHECK(r->devices().size() == 1);
  CHECK_FALSE(r->devices().front().activated());
}

TEST_CASE("An empty document is an empty state", "[loader]") {
  const auto r = load_state_string("", "s.yaml", t0);
  REQUIRE(r.has_value());
  CHECK(r->devices().empty());
}

TEST_CASE("Bad state files give FILE:LINE: key: problem", "[loader]") {
  CHECK(load_error("devices: [\n  {vendor: v\n").starts_with("s.yaml:"));
  CHECK(load_error("devices:\n  - vendor: v\n    model: m\n    sn: s\n    colour: red\n") ==
        "s.yaml:5: devices[0].colour: unknown key");
  CHECK(load_error("devices:\n  - vendor: v\n    model: m\n") ==
        "s.yaml:2: devices[0].sn: missing");
  CHECK(load_error("devices:\n  - {vendor: v, model: m, sn: s, cik: xyz}\n") ==
        "s.yaml:2: devices[0].cik: must be 40 hexadecimal characters");
  CHECK(load_error("devices:\n  - {vendor: v, model: m, sn: s}\n  - {vendor: v, model: m, sn: s}\n")
            .find("duplicate device v/m/s") != std::string::npos);
  CHECK(load_error("devices:\n  - {vendor: v, model: m, sn: s, enabled: maybe}\n") ==
        "s.yaml:2: devices[0].enabled: must be true or false");
  CHECK(load_error("devices:\n  - {vendor: v, model: m, sn: s, dataports: {a: [[x, 1]]}}\n") ==
        "s.yaml:2: devices[0].dataports.a[0][0]: must be an integer");
  CHECK(load_error("content:\n  - {vendor: v, model: m, files: [{id: f, text: a, size: 3}]}\n") ==
        "s.yaml:2: content[0].files[0]: needs exactly one of text, base64, size");
  CHECK(load_error("content:\n  - {vendor: v, model: m, files: [{id: f, base64: '@@'}]}\n") ==
        "s.yaml:2: content[0].files[0].base64: is not valid base64");
  CHECK(load_error("content:\n  - {vendor: v, model: m, files: [{id: f, size: -1}]}\n") ==
        "s.yaml:2: content[0].files[0].size: must be between 0 and 1 GiB");
  CHECK(load_error(
            "content:\n  - {vendor: v, model: m, files: [{id: f, size: 1}, {id: f, size: 2}]}\n")
            .find("duplicate id f") != std::string::npos);
  CHECK(load_error("- a\n- b\n") == "s.yaml:1: the state file must be a mapping");
}

TEST_CASE("A missing file is reported with its path", "[loader]") {
  const auto r = gw::sim::load_state_file("/nonexistent/state.yaml", t0);
  REQUIRE(r.has_error());
  CHECK(r.error().message == "/nonexistent/state.yaml: cannot open file");
  CHECK_THROWS_AS(r.value(), std::runtime_error);
}
