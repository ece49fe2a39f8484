#include <catch2/catch.hpp>

#include "sim/router.hpp"
#include "sim/state_loader.hpp"
#include "sim_fixture.hpp"

using namespace sim_test;
using gw::sim::handle;

namespace {

response activate(gw::sim::state& st, std::string body) {
  return now_answer(handle(post("/provision/activate", std::move(body)), st, at(t0)));
}

response download(gw::sim::state& st, std::string query,
                  gw::sim::header_list headers = with_cik()) {
  return now_answer(handle(get("/provision/download?" + query, std::move(headers)), st, at(t0)));
}

constexpr const char* demo = "vendor=demo&model=gateway";

}  // namespace

TEST_CASE("activate: a fresh CIK once, then 409", "[provision]") {
  auto st = example_state();
  st.seed(7);
  const auto r = activate(st, "vendor=demo&model=gateway&sn=0002");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
  REQUIRE(gw::sim::is_hex40(r.body));
  CHECK(gw::sim::to_lower(r.body) == r.body);
  // The device now answers to that CIK, with the dataports declared for it.
  CHECK(now_answer(handle(post("/onep:v1/stack/alias", "temp=5", with_cik(r.body)), st, at(t0)))
            .status == 204);
  CHECK(now_answer(handle(get("/onep:v1/stack/alias?temp", with_cik(r.body)), st, at(t0))).body ==
        "temp=5");
  CHECK(activate(st, "vendor=demo&model=gateway&sn=0002").status == 409);
}

TEST_CASE("activate: 404 unknown device, 409 activated or not enabled", "[provision]") {
  auto st = example_state();
  CHECK(activate(st, "vendor=demo&model=gateway&sn=9999").status == 404);
  CHECK(activate(st, "vendor=demo&model=other&sn=0002").status == 404);
  CHECK(activate(st, "").status == 404);
  CHECK(activate(st, "vendor=demo&model=gateway&sn=0001").status == 409);
  CHECK(activate(st, "vendor=demo&model=gateway&sn=0003").status == 409);
  CHECK(activate(st, "vendor=demo&model=gateway&sn=0004").status == 409);
  CHECK(activate(st, "vendor=%zz").status == 400);
  CHECK(now_answer(handle(get("/provision/activate"), st, at(t0))).status == 405);
}

TEST_CASE("list content: one id per line, 401, 403 for another vendor/model", "[provision]") {
  auto st = example_state();
  const auto r = download(st, demo);
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "text/csv; charset=utf-8");
  CHECK(r.body ==
        "firmware.bin\r\nreadme.txt\r\nempty.bin\r\none.bin\r\nbig.bin\r\nk1.bin\r\nk1p1.bin\r\n");
  CHECK(download(st, demo, {}).status == 401);
  CHECK(download(st, demo, with_cik("0123456789012345678901234567890123456789")).status == 401);
  CHECK(download(st, "vendor=demo&model=other").status == 403);
  CHECK(download(st, "vendor=other&model=gateway").status == 403);
  CHECK(download(st, "").status == 403);
}

TEST_CASE("list content: 204 when the vendor/model has none", "[provision]") {
  auto loaded = gw::sim::load_state_string(
      "devices: [{vendor: v, model: m, sn: '1', cik: 0000000000000000000000000000000000000001}]\n"
      "content: [{vendor: v, model: m, files: []}]\n",
      "s.yaml", t0);
  REQUIRE(loaded.has_value());
  auto st = std::move(*loaded);
  const auto cik = with_cik("0000000000000000000000000000000000000001");
  CHECK(download(st, "vendor=v&model=m", cik).status == 204);
}

TEST_CASE("content info: type,size,updated,meta; 400 for another vendor/model", "[provision]") {
  auto st = example_state();
  const auto r = download(st, std::string(demo) + "&id=firmware.bin&info=true");
  CHECK(r.status == 200);
  CHECK(r.body == "application/octet-stream,5000,1400000000,version=1.2.3");
  CHECK(download(st, std::string(demo) + "&id=empty.bin&info=true").body ==
        "application/octet-stream,0,1400000200,");
  CHECK(download(st, std::string(demo) + "&id=nope&info=true").status == 404);
  CHECK(download(st, "vendor=demo&model=other&id=firmware.bin&info=true").status == 400);
  CHECK(download(st, std::string(demo) + "&id=firmware.bin&info=true", {}).status == 401);
}

TEST_CASE("download: whole content with its type", "[provision]") {
  auto st = example_state();
  const auto r = download(st, std::string(demo) + "&id=firmware.bin");
  CHECK(r.status == 200);
  CHECK(r.body == gw::sim::generated_bytes(5000));
  CHECK(r.header("Content-Type") == "application/octet-stream");
  CHECK(r.header("Accept-Ranges") == "bytes");
  CHECK(download(st, std::string(demo) + "&id=readme.txt").header("Content-Type") == "text/plain");
  CHECK(download(st, std::string(demo) + "&id=empty.bin").body.empty());
  CHECK(download(st, std::string(demo) + "&id=nope").status == 404);
  CHECK(download(st, "vendor=demo&model=other&id=firmware.bin").status == 403);
  CHECK(download(st, std::string(demo) + "&id=firmware.bin", {}).status == 401);
}

TEST_CASE("download: ranges give 206 with Content-Range, or 416", "[provision]") {
  auto st = example_state();
  const auto ranged = [&](std::string id, std::string range) {
    return download(st, std::string(demo) + "&id=" + id, with_cik(demo_cik, {{"Range", range}}));
  };
  const auto all = gw::sim::generated_bytes(5000);
  auto r = ranged("firmware.bin", "bytes=1024-2047");
  CHECK(r.status == 206);
  CHECK(r.body == all.substr(1024, 1024));
  CHECK(r.header("Content-Range") == "bytes 1024-2047/5000");
  CHECK(r.header("Accept-Ranges") == "bytes");
  CHECK(r.header("Content-Type") == "application/octet-stream");

  r = ranged("firmware.bin", "bytes=4096-");
  CHECK(r.body == all.substr(4096));
  CHECK(r.header("Content-Range") == "bytes 4096-4999/5000");
  r = ranged("firmware.bin", "bytes=-10");
  CHECK(r.header("Content-Range") == "bytes 4990-4999/5000");
  r = ranged("k1p1.bin", "bytes=1024-2047");
  CHECK(r.status == 206);
  CHECK(r.body.size() == 1);

  r = ranged("k1.bin", "bytes=1024-2047");
  CHECK(r.status == 416);
  CHECK(r.header("Content-Range") == "bytes */1024");
  CHECK(ranged("empty.bin", "bytes=0-").status == 416);
  // An invalid Range header is ignored.
  CHECK(ranged("k1.bin", "bytes=9-1").status == 200);
}
