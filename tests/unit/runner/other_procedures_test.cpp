// Multiple Read/Write, provisioning, download windows, timestamp, RPC, discovery and routing
// through the runner.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "gateway/coap/block.hpp"
#include "tests/unit/runner/runner_rig.hpp"
#include "translate/content_format.hpp"

namespace gw::runner::test {
namespace {

using tt::from_hex;
using namespace translate;

// --- Multiple Read and Write ---------------------------------------------------------------

// Every alias of r1, r2 and w1 exists: one lookup call per alias, in one request.
const std::string three_ok =
    R"([{"id": 1, "status": "ok", "result": "x"}, {"id": 2, "status": "ok", "result": "y"},)"
    R"( {"id": 3, "status": "ok", "result": "z"}])";

bool is_lookups(const upstream::request& r, const std::vector<std::string>& aliases) {
  if (r.method != "POST" || r.target != "/onep:v1/rpc/process") return false;
  auto body = json::parse(r.body, nullptr, false);
  if (body.is_discarded() || body["auth"]["cik"] != tt::cik) return false;
  if (body["calls"].size() != aliases.size()) return false;
  for (std::size_t i = 0; i < aliases.size(); ++i) {
    const auto& call = body["calls"][i];
    if (call["id"] != i + 1 || call["procedure"] != "lookup" ||
        call["arguments"] != json::array({"alias", aliases[i]}))
      return false;
  }
  return true;
}

TEST_CASE_METHOD(fixture, "Multiple Read and Write", "[runner]") {
  auto d = make();
  // {"w1": "26.1"}, reads r1 and r2, no Content-Format (CoAPExample).
  auto request = tt::with_payload(tt::make_request(post, {"1a"}, {tt::cik, "r1", "r2"}),
                                  from_hex("a1 62 77 31 64 32 36 2e 31"));
  SECTION("200") {
    client.answer(200, three_ok);
    client.answer(200, "r1=99");
    auto msg = run(d, request);
    CHECK(msg.code == content);
    CHECK(msg.content_format() == cf::cbor);
    auto doc = cbor_to_json(msg.payload);
    REQUIRE(doc.has_value());
    CHECK(doc->dump() == R"({"r1":"99","r2":null})");
    REQUIRE(client.sent.size() == 2);
    CHECK(is_lookups(client.sent[0], {"r1", "r2", "w1"}));
    CHECK(client.sent[1].method == "POST");
    CHECK(client.sent[1].target == "/onep:v1/stack/alias?r1&r2");
    CHECK(client.sent[1].body == "w1=26.1");

    // The aliases are known now: the next one costs the data call only.
    client.answer(204);
    CHECK(run(d, request).code == content);
    CHECK(client.sent.size() == 3);
  }
  SECTION("204") {
    client.answer(200, three_ok);
    client.answer(204);
    auto msg = run(d, request);
    CHECK(msg.code == content);
    CHECK(tt::to_hex(msg.payload) ==
          "a2"
          "627231"
          "f6"
          "627232"
          "f6");
  }
  SECTION("401") {
    client.answer(401);
    tt::check_error(run(d, request), unauthorized);
    CHECK(client.sent.size() == 1);
  }
  SECTION("an alias the CIK cannot reach: 4.03 and nothing written") {
    client.answer(200, R"([{"id": 1, "status": "ok", "result": "x"},)"
                       R"( {"id": 2, "status": "invalid"}, {"id": 3, "status": "ok"}])");
    tt::check_error(run(d, request), forbidden);
    REQUIRE(client.sent.size() == 1);
    CHECK(is_lookups(client.sent[0], {"r1", "r2", "w1"}));
    // Remembered: asked again, no upstream call at all.
    tt::check_error(run(d, request), forbidden);
    CHECK(client.sent.size() == 1);
  }
  SECTION("an unknown write alias alone: 4.03 and no write") {
    auto write_only =
        tt::with_payload(tt::make_request(post, {"1a"}, {tt::cik}), from_hex("a1 62 77 31 01"));
    client.answer(200, R"([{"id": 1, "status": "invalid"}])");
    tt::check_error(run(d, write_only), forbidden);
    CHECK(client.sent.size() == 1);
  }
  SECTION("node-coap-client's key= forms: <CIK>= and alias=") {
    auto keyed = tt::make_request(get, {"1a"}, {tt::cik + "=", "r1=", "r2="});
    keyed.code = post;
    client.answer(200, R"([{"id": 1, "status": "ok"}, {"id": 2, "status": "ok"}])");
    client.answer(200, "r1=5&r2=6");
    auto msg = run(d, keyed);
    CHECK(msg.code == content);
    CHECK(cbor_to_json(msg.payload)->dump() == R"({"r1":"5","r2":"6"})");
    CHECK(is_lookups(client.sent[0], {"r1", "r2"}));
    CHECK(client.sent[1].target == "/onep:v1/stack/alias?r1&r2");
  }
  SECTION("bad payload: no upstream call") {
    tt::check_error(run(d, tt::with_payload(request, from_hex("82 01 02"))), bad_request);
    CHECK(client.sent.empty());
  }
}

// --- Provisioning --------------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "Activate", "[runner]") {
  auto d = make();
  const auto request = tt::make_request(post, {"provision", "activate", "acme", "widget", "1"});
  SECTION("200: the CIK as text") {
    client.answer(200, tt::cik, {{"Content-Type", "text/plain; charset=utf-8"}});
    auto msg = run(d, request);
    CHECK(msg.code == content);
    CHECK(msg.content_format() == cf::text_plain);
    CHECK(tt::text(msg) == tt::cik);
  }
  SECTION("404: 4.04") {
    client.answer(404);
    tt::check_error(run(d, request), not_found);
  }
  SECTION("409: 4.09") {
    client.answer(409);
    tt::check_error(run(d, request), conflict);
  }
  REQUIRE(client.sent.size() == 1);
  CHECK(client.sent[0].method == "POST");
  CHECK(client.sent[0].target == "/provision/activate");
  CHECK(client.sent[0].body == "vendor=acme&model=widget&sn=1");
  CHECK_FALSE(tt::header(client.sent[0], "X-Exosite-CIK").has_value());
}

TEST_CASE_METHOD(fixture, "List, info and download", "[runner]") {
  auto d = make();
  const auto list = tt::make_request(get, {"provision", "download", "acme", "widget"}, {tt::cik});
  const auto info =
      tt::make_request(get, {"provision", "download", "acme", "widget", "fw", "info"}, {tt::cik});
  const auto download =
      tt::make_request(get, {"provision", "download", "acme", "widget", "fw"}, {tt::cik});

  client.answer(200, "fw\ncfg\n", {{"Content-Type", "text/csv; charset=utf-8"}});
  auto msg = run(d, list);
  CHECK(msg.code == content);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(tt::text(msg) == "fw\ncfg\n");
  CHECK(client.sent.back().target == "/provision/download?vendor=acme&model=widget");
  CHECK(tt::header(client.sent.back(), "X-Exosite-CIK") == tt::cik);

  client.answer(200, "application/octet-stream,3,1410360812,v1", {{"Content-Type", "text/csv"}});
  msg = run(d, info);
  CHECK(tt::text(msg) == "application/octet-stream,3,1410360812,v1");
  CHECK(client.sent.back().target ==
        "/provision/download?vendor=acme&model=widget&id=fw&info=true");

  // Download: the info call names the version, then a Range window of the bytes.
  client.answer(200, "image/png,3,1410360812,v1", {{"Content-Type", "text/csv"}});
  client.answer(206, "abc", {{"Content-Type", "image/png"}, {"Content-Range", "bytes 0-2/3"}});
  msg = run(d, download);
  CHECK(msg.code == content);
  CHECK(msg.content_format() == cf::octet_stream);
  CHECK(tt::text(msg) == "abc");
  CHECK(msg.has(coap::opt::etag));
  CHECK_FALSE(msg.has(coap::opt::block2));  // it fits in one block and none was asked for
  CHECK(client.sent.back().target == "/provision/download?vendor=acme&model=widget&id=fw");
  CHECK(tt::header(client.sent.back(), "Range") == "bytes=0-2");

  // Within a second the same version is known: nothing goes upstream.
  msg = run(d, download);
  CHECK(tt::text(msg) == "abc");
  CHECK(client.sent.size() == 4);

  // Later the version is checked again; its bytes still come from the cache.
  now += 2s;
  client.answer(200, "image/png,3,1410360812,v1", {{"Content-Type", "text/csv"}});
  msg = run(d, download);
  CHECK(tt::text(msg) == "abc");
  CHECK(client.sent.back().target ==
        "/provision/download?vendor=acme&model=widget&id=fw&info=true");

  // "No device or no content": 204, 400, 403 are 4.04 on all three.
  for (unsigned status : {204u, 400u, 403u}) {
    for (const auto* request : {&list, &info, &download}) {
      INFO(status << " " << request->path_string());
      now += 2s;  // past the version check's second
      client.answer(status);
      tt::check_error(run(d, *request), not_found);
    }
  }
  now += 2s;
  client.answer(401);
  tt::check_error(run(d, download), unauthorized);
  CHECK(client.unused() == 0);
}

TEST_CASE_METHOD(fixture, "Download Content in blocks", "[runner]") {
  auto d = make();
  std::string content(5000, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i % 251);
  const std::string info_body = "application/octet-stream,5000,1400000000,";
  auto block_request = [](std::uint32_t num, std::uint8_t szx) {
    auto r = tt::make_request(get, {"provision", "download", "acme", "widget", "fw"}, {tt::cik});
    r.add_option(coap::opt::block2, coap::encode_block({num, false, szx}));
    return r;
  };

  // 128-byte blocks (SZX 3), as the API document shows: one 16 KiB window serves them all.
  client.answer(200, info_body);
  client.answer(206, content.substr(0, 5000), {{"Content-Range", "bytes 0-4999/5000"}});
  auto first = run(d, block_request(0, 3));
  REQUIRE(first.find(coap::opt::block2) != nullptr);
  auto b0 = coap::decode_block(first.find(coap::opt::block2)->value);
  CHECK(b0 == coap::block_value{0, true, 3});
  CHECK(first.uint_option(coap::opt::size2) == 5000u);
  CHECK(tt::header(client.sent.back(), "Range") == "bytes=0-4999");
  CHECK(tt::text(first) == content.substr(0, 128));

  // The next blocks within the second need no upstream call at all.
  auto last = run(d, block_request(39, 3));
  auto b39 = coap::decode_block(last.find(coap::opt::block2)->value);
  CHECK(b39 == coap::block_value{39, false, 3});
  CHECK(tt::text(last) == content.substr(39 * 128));
  CHECK_FALSE(last.has(coap::opt::size2));
  CHECK(last.find(coap::opt::etag)->value == first.find(coap::opt::etag)->value);

  tt::check_error(run(d, block_request(40, 3)), bad_option);  // past the end
  CHECK(client.sent.size() == 2);

  // A transfer that starts later checks the version: a new one (another updated timestamp) is
  // fetched again and has another ETag.
  now += 2s;
  client.answer(200, "application/octet-stream,5000,1400000999,");
  client.answer(206, content, {{"Content-Range", "bytes 0-4999/5000"}});
  auto fresh = run(d, block_request(0, 3));
  CHECK(fresh.find(coap::opt::etag)->value != first.find(coap::opt::etag)->value);
  CHECK(client.unused() == 0);
}

TEST_CASE_METHOD(fixture, "a slow download checks the version once per window, not per block",
                 "[runner]") {
  options.download_window = 1024;
  auto d = make();
  std::string content(2000, 'x');
  auto block_request = [](std::uint32_t num) {
    auto r = tt::make_request(get, {"provision", "download", "acme", "widget", "fw"}, {tt::cik});
    r.add_option(coap::opt::block2, coap::encode_block({num, false, 2}));  // 64 bytes
    return r;
  };
  const std::string info_body = "application/octet-stream,2000,1400000000,";
  for (std::uint32_t num = 0; num * 64 < content.size(); ++num) {
    if (num * 64 % 1024 == 0) {  // a new window: the version is checked, the window fetched
      client.answer(200, info_body);
      const auto first = num * 64;
      const auto last = std::min<std::size_t>(first + 1024, content.size()) - 1;
      client.answer(206, content.substr(first, last - first + 1));
    }
    auto msg = run(d, block_request(num));
    REQUIRE(msg.code == coap::codes::content);
    now += 3s;  // a lossy link: every block more than a second after the last
  }
  // 32 blocks, 2 windows: 2 info calls and 2 range requests.
  CHECK(client.sent.size() == 4);
  CHECK(client.unused() == 0);
}

TEST_CASE_METHOD(fixture, "Download answers in the content's own format only (Accept)",
                 "[runner]") {
  auto d = make();
  auto download = [](std::optional<std::uint16_t> accept) {
    auto r = tt::make_request(get, {"provision", "download", "acme", "widget", "fw"}, {tt::cik});
    if (accept) r.add_uint_option(coap::opt::accept, *accept);
    return r;
  };
  client.answer(200, "application/octet-stream,3,1410360812,v1");
  tt::check_error(run(d, download(cf::text_plain)), not_acceptable);
  client.answer(206, "abc");
  auto msg = run(d, download(cf::octet_stream));
  CHECK(msg.code == content);
  CHECK(tt::text(msg) == "abc");
  CHECK(client.unused() == 0);
}

// --- Timestamp, RPC, discovery, routing ----------------------------------------------------

TEST_CASE_METHOD(fixture, "Timestamp from upstream", "[runner]") {
  auto d = make();
  client.answer(200, "1410360812\n", {{"Content-Type", "text/plain; charset=utf-8"}});
  auto msg = run(d, tt::make_request(get, {"ts"}));
  CHECK(msg.code == content);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(tt::text(msg) == "1410360812");
  REQUIRE(client.sent.size() == 1);
  CHECK(client.sent[0].method == "GET");
  CHECK(client.sent[0].target == "/timestamp");

  client.answer(200, "1410360812");
  msg = run(d, tt::with_accept(tt::make_request(get, {"ts"}), cf::octet_stream));
  CHECK(msg.content_format() == cf::octet_stream);
  CHECK(msg.payload == coap::bytes{0x54, 0x10, 0x65, 0xec});

  client.answer(200, "soon");
  tt::check_error(run(d, tt::make_request(get, {"ts"})), bad_gateway);
  client.fail(upstream::error::timed_out);
  tt::check_error(run(d, tt::make_request(get, {"ts"})), gateway_timeout);
  client.answer(500);
  tt::check_error(run(d, tt::make_request(get, {"ts"})), internal_server_error);
}

TEST_CASE_METHOD(fixture, "Timestamp from the local clock", "[runner]") {
  options.local_timestamp = true;
  auto d = make();
  auto msg = run(d, tt::make_request(get, {"ts"}));
  CHECK(msg.code == content);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(tt::text(msg) == std::to_string(unix_now));
  msg = run(d, tt::with_format(tt::make_request(get, {"ts"}), cf::octet_stream));
  CHECK(msg.content_format() == cf::octet_stream);
  CHECK(msg.payload == coap::bytes{0x54, 0x10, 0x66, 0x08});  // 1410360840
  tt::check_error(run(d, tt::with_accept(tt::make_request(get, {"ts"}), cf::json)), not_acceptable);
  CHECK(client.sent.empty());

  // set_options switches the source.
  options.local_timestamp = false;
  d.set_options(options);
  client.answer(200, "5");
  CHECK(tt::text(run(d, tt::make_request(get, {"ts"}))) == "5");
  CHECK(client.sent.size() == 1);
}

TEST_CASE_METHOD(fixture, "RPC", "[runner]") {
  auto d = make();
  const json call = json::parse(R"({"auth": {"cik": ")" + tt::cik +
                                R"("}, "calls": [{"id": 1, "procedure": "read",
                                "arguments": [{"alias": "temp"}, {"limit": 1}]}]})");
  const auto request = tt::with_format(
      tt::with_payload(tt::make_request(post, {"rpc"}), json_to_cbor(call)), cf::cbor);
  SECTION("per-call answer") {
    client.answer(200, R"([{"id": 1, "status": "ok", "result": [[1410360840, 64.2]]}])");
    auto msg = run(d, request);
    CHECK(msg.code == content);
    CHECK(msg.content_format() == cf::cbor);
    auto doc = cbor_to_json(msg.payload);
    REQUIRE(doc.has_value());
    CHECK(doc->dump() == R"([{"id":1,"status":"ok","result":[[1410360840,64.2]]}])");
    REQUIRE(client.sent.size() == 1);
    CHECK(client.sent[0].target == "/onep:v1/rpc/process");
    CHECK(json::parse(client.sent[0].body) == call);
  }
  SECTION("whole-request 401") {
    client.answer(200, R"({"error": {"code": 401, "message": "Invalid", "context": "auth"}})");
    auto msg = run(d, request);
    CHECK(msg.code == unauthorized);
    CHECK(msg.content_format() == cf::cbor);
  }
  SECTION("JSON asked with Accept") {
    const std::string body = R"([{"id": 1, "status": "ok", "result": []}])";
    client.answer(200, body);
    auto msg = run(d, tt::with_accept(request, cf::json));
    CHECK(msg.code == content);
    CHECK(msg.content_format() == cf::json);
    CHECK(tt::text(msg) == body);
  }
  SECTION("HTTP 502 from upstream") {
    client.answer(502);
    tt::check_error(run(d, request), bad_gateway);
  }
  SECTION("bad CBOR: no upstream call") {
    tt::check_error(run(d, tt::with_payload(request, from_hex("a1 61"))), bad_request);
    CHECK(client.sent.empty());
  }
}

// Upstream bodies are untrusted input: an odd error member must not escape as an exception.
TEST_CASE_METHOD(fixture, "RPC: an error member that is an array is 5.02, not an exception",
                 "[runner]") {
  auto d = make();
  const auto request = tt::with_payload(tt::make_request(post, {"rpc"}),
                                        json_to_cbor(json::parse(R"({"calls": []})")));
  client.answer(200, R"({"error": []})");
  coap::message msg;
  CHECK_NOTHROW(msg = run(d, request));
  CHECK(msg.code == bad_gateway);
}

TEST_CASE_METHOD(fixture, "discovery: /.well-known/core without upstream", "[runner]") {
  auto d = make();
  auto msg = run(d, tt::make_request(get, {".well-known", "core"}));
  CHECK(msg.code == content);
  CHECK(msg.token == tt::token);
  CHECK(msg.content_format() == cf::link_format);
  CHECK(tt::text(msg) == well_known_core());
  // An ETag of the document, the same every time: the block layer cuts blocks under it
  // without hashing the document again, and a client can validate its copy.
  const auto* etag = msg.find(coap::opt::etag);
  REQUIRE(etag != nullptr);
  CHECK(etag->value == well_known_core_etag());
  CHECK(etag->value.size() == 4);
  CHECK(run(d, tt::make_request(get, {".well-known", "core"})).find(coap::opt::etag)->value ==
        etag->value);
  CHECK(client.sent.empty());
}

TEST_CASE_METHOD(fixture, "unknown paths and methods", "[runner]") {
  auto d = make();
  tt::check_error(run(d, tt::make_request(get, {"nope"}, {tt::cik})), not_found);
  tt::check_error(run(d, tt::make_request(get, {"1a"}, {tt::cik})), method_not_allowed);
  tt::check_error(run(d, tt::make_request(put, {"1a", "temp"}, {tt::cik})), method_not_allowed);
  tt::check_error(run(d, tt::make_request(post, {"ts"})), method_not_allowed);
  CHECK(client.sent.empty());
}

// RFC 7252 §5.10.4: "If the preferred Content-Format cannot be returned, then a 4.06 'Not
// Acceptable' MUST be sent as a response". Timestamp and RPC check Accept; these must too.
TEST_CASE_METHOD(fixture, "an Accept the answer cannot meet is 4.06", "[runner]") {
  auto d = make();
  SECTION("Read asking for CBOR") {
    client.answer(200, "temp=1");
    auto msg = run(d, tt::with_accept(get_value("temp"), cf::cbor));
    tt::check_error(msg, not_acceptable);
  }
  SECTION("Multiple Read asking for text") {
    client.answer(200, "r1=1");
    auto msg =
        run(d, tt::with_accept(tt::make_request(post, {"1a"}, {tt::cik, "r1"}), cf::text_plain));
    tt::check_error(msg, not_acceptable);
  }
  SECTION("discovery asking for JSON") {
    auto msg = run(d, tt::with_accept(tt::make_request(get, {".well-known", "core"}), cf::json));
    tt::check_error(msg, not_acceptable);
  }
  SECTION("the formats they do answer in are accepted") {
    client.answer(200, "temp=1");
    CHECK(run(d, tt::with_accept(get_value("temp"), cf::text_plain)).code == content);
    client.answer(200, lookup_ok);
    client.answer(200, "r1=1");
    CHECK(run(d, tt::with_accept(tt::make_request(post, {"1a"}, {tt::cik, "r1"}), cf::cbor)).code ==
          content);
    CHECK(run(d, tt::with_accept(tt::make_request(get, {".well-known", "core"}), cf::link_format))
              .code == content);
  }
}

}  // namespace
}  // namespace gw::runner::test
