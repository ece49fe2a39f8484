// The dispatcher end to end without sockets: a scripted upstream::client records every request
// and answers from a script, the dispatcher runs on an io_context, and each test asserts the
// whole sequence of upstream calls and the CoAP answer.
#include "translate/dispatcher.hpp"
#include "gateway/coap/block.hpp"

#include <cctype>
#include <deque>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "tests/unit/translate/translate_test_support.hpp"
#include "translate/cbor_json.hpp"
#include "translate/content_format.hpp"

namespace gw::translate {
namespace {

using namespace coap::codes;
using namespace std::chrono_literals;
using test::from_hex;

class scripted_client final : public upstream::client {
 public:
  std::vector<upstream::request> sent;

  void answer(unsigned status, std::string body = {}, std::vector<upstream::header> headers = {}) {
    script_.emplace_back(test::make_answer(status, std::move(body), std::move(headers)));
  }
  void fail(upstream::error e) { script_.emplace_back(make_error_code(e)); }
  std::size_t unused() const { return script_.size(); }

  boost::asio::awaitable<upstream::result> async_send(upstream::request req) override {
    sent.push_back(std::move(req));
    if (script_.empty()) {
      FAIL_CHECK("unscripted upstream call: " << sent.back().method << " " << sent.back().target);
      co_return make_error_code(upstream::error::connection_closed);
    }
    auto next = std::move(script_.front());
    script_.pop_front();
    co_return next;
  }

 private:
  std::deque<upstream::result> script_;
};

const std::string lookup_ok =
    R"([{"id": 1, "status": "ok", "result": "0123456789abcdef0123456789abcdef01234567"}])";
const std::string lookup_invalid = R"([{"id": 1, "status": "invalid"}])";
const std::string form_type = "application/x-www-form-urlencoded; charset=utf-8";

struct fixture {
  scripted_client client;
  core::time_point now = core::time_point{} + 1000h;
  std::int64_t unix_now = 1410360840;
  dispatcher_options options;

  dispatcher make() {
    dispatcher_clock clock;
    clock.steady = [this] { return now; };
    clock.unix_seconds = [this] { return unix_now; };
    return dispatcher(client, options, clock);
  }

  // Runs one request to completion on a fresh io_context; rethrows what the dispatcher threw.
  coap::message run(dispatcher& d, coap::message request) {
    boost::asio::io_context io;
    std::optional<coap::message> out;
    std::exception_ptr failure;
    boost::asio::co_spawn(io, d.async_handle(std::move(request)),
                          [&](std::exception_ptr e, coap::message m) {
                            failure = e;
                            if (!e) out = std::move(m);
                          });
    io.run();
    if (failure) std::rethrow_exception(failure);
    REQUIRE(out.has_value());
    return std::move(*out);
  }

  bool is_lookup(std::size_t i, const std::string& alias) const {
    REQUIRE(i < client.sent.size());
    const auto& r = client.sent[i];
    if (r.method != "POST" || r.target != "/onep:v1/rpc/process") return false;
    auto body = json::parse(r.body, nullptr, false);
    return !body.is_discarded() && body["auth"]["cik"] == test::cik &&
           body["calls"][0]["procedure"] == "lookup" &&
           body["calls"][0]["arguments"] == json::array({"alias", alias});
  }
  bool is_write(std::size_t i, const std::string& body) const {
    REQUIRE(i < client.sent.size());
    const auto& r = client.sent[i];
    return r.method == "POST" && r.target == "/onep:v1/stack/alias" && r.body == body &&
           test::header(r, "X-Exosite-CIK") == test::cik;
  }
  bool is_read(std::size_t i, const std::string& query) const {
    REQUIRE(i < client.sent.size());
    const auto& r = client.sent[i];
    return r.method == "GET" && r.target == "/onep:v1/stack/alias?" + query &&
           test::header(r, "X-Exosite-CIK") == test::cik;
  }
};

coap::message post_value(std::string alias, std::string value,
                         std::vector<std::string> queries = {test::cik}) {
  return test::with_payload(test::make_request(post, {"1a", std::move(alias)}, queries), value);
}

coap::message get_value(std::string alias, std::vector<std::string> queries = {test::cik}) {
  return test::make_request(get, {"1a", std::move(alias)}, queries);
}

// --- Write ---------------------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "Write of an unknown alias: lookup, then 4.03 without writing",
                 "[translate][dispatcher]") {
  auto d = make();
  client.answer(200, lookup_invalid);
  auto msg = run(d, post_value("nope", "1"));
  test::check_error(msg, forbidden);
  REQUIRE(client.sent.size() == 1);
  CHECK(is_lookup(0, "nope"));

  // The negative answer is cached for negative_ttl: no second lookup.
  msg = run(d, post_value("nope", "2"));
  test::check_error(msg, forbidden);
  CHECK(client.sent.size() == 1);

  // After it, the alias is checked again.
  now += options.alias_cache.negative_ttl;
  client.answer(200, lookup_invalid);
  msg = run(d, post_value("nope", "3"));
  test::check_error(msg, forbidden);
  REQUIRE(client.sent.size() == 2);
  CHECK(is_lookup(1, "nope"));
}

TEST_CASE_METHOD(fixture, "Write of a known alias: lookup, write, 2.04; then the cache",
                 "[translate][dispatcher]") {
  auto d = make();
  client.answer(200, lookup_ok);
  client.answer(204);
  auto msg = run(d, post_value("temp", "26.1"));
  CHECK(msg.code == changed);
  CHECK(msg.token == test::token);
  CHECK(msg.payload.empty());
  REQUIRE(client.sent.size() == 2);
  CHECK(is_lookup(0, "temp"));
  CHECK(is_write(1, "temp=26.1"));
  CHECK(test::header(client.sent[1], "Content-Type") == form_type);

  client.answer(204);
  msg = run(d, post_value("temp", "27"));
  CHECK(msg.code == changed);
  REQUIRE(client.sent.size() == 3);
  CHECK(is_write(2, "temp=27"));

  // The positive answer expires after ttl.
  now += options.alias_cache.ttl;
  client.answer(200, lookup_ok);
  client.answer(204);
  msg = run(d, post_value("temp", "28"));
  CHECK(msg.code == changed);
  REQUIRE(client.sent.size() == 5);
  CHECK(is_lookup(3, "temp"));
  CHECK(is_write(4, "temp=28"));
}

TEST_CASE_METHOD(fixture, "Write with the captured binary-CIK datagram",
                 "[translate][dispatcher]") {
  auto d = make();
  client.answer(200, lookup_ok);
  client.answer(204);
  auto msg = run(d, test::captured_request("write_binary_cik"));
  CHECK(msg.code == changed);
  REQUIRE(client.sent.size() == 2);
  CHECK(is_lookup(0, "temp"));
  CHECK(is_write(1, "temp=37"));
}

TEST_CASE_METHOD(fixture, "Write answered 401: 4.01 and the CIK's cache entries are dropped",
                 "[translate][dispatcher]") {
  auto d = make();
  client.answer(200, lookup_ok);
  client.answer(204);
  CHECK(run(d, post_value("temp", "1")).code == changed);
  client.answer(401);
  test::check_error(run(d, post_value("temp", "2")), unauthorized);
  REQUIRE(client.sent.size() == 3);
  CHECK(is_write(2, "temp=2"));
  // Checked again after the 401.
  client.answer(200, lookup_ok);
  client.answer(204);
  CHECK(run(d, post_value("temp", "3")).code == changed);
  REQUIRE(client.sent.size() == 5);
  CHECK(is_lookup(3, "temp"));
}

TEST_CASE_METHOD(fixture, "Write: lookup failures", "[translate][dispatcher]") {
  auto d = make();
  SECTION("whole-request 401 from the lookup") {
    client.answer(200, R"({"error": {"code": 401, "message": "Invalid", "context": "auth"}})");
    test::check_error(run(d, post_value("temp", "1")), unauthorized);
  }
  SECTION("HTTP 401 from the lookup") {
    client.answer(401);
    test::check_error(run(d, post_value("temp", "1")), unauthorized);
  }
  SECTION("lookup timed out") {
    client.fail(upstream::error::timed_out);
    test::check_error(run(d, post_value("temp", "1")), gateway_timeout);
  }
  SECTION("lookup answered garbage") {
    client.answer(200, "<html>");
    test::check_error(run(d, post_value("temp", "1")), bad_gateway);
  }
  SECTION("lookup answered 503 with Retry-After") {
    client.answer(503, "", {{"Retry-After", "20"}});
    auto msg = run(d, post_value("temp", "1"));
    test::check_error(msg, service_unavailable);
    CHECK(msg.uint_option(coap::opt::max_age) == 20u);
  }
  // Nothing was written.
  REQUIRE(client.sent.size() == 1);
  CHECK(is_lookup(0, "temp"));
}

TEST_CASE_METHOD(fixture, "Write: a bad value is refused before any upstream call",
                 "[translate][dispatcher]") {
  auto d = make();
  test::check_error(run(d, test::with_format(post_value("temp", "1"), cf::json)),
                    unsupported_content_format);
  test::check_error(run(d, post_value("temp", "\xff")), bad_request);
  test::check_error(
      run(d, test::with_format(test::with_payload(post_value("temp", ""), from_hex("a1 61 61 01")),
                               cf::cbor)),
      bad_request);
  CHECK(client.sent.empty());
}

TEST_CASE_METHOD(fixture, "Write upstream 503 with Retry-After: 5.03 with Max-Age",
                 "[translate][dispatcher]") {
  auto d = make();
  client.answer(200, lookup_ok);
  client.answer(503, "", {{"Retry-After", "30"}});
  auto msg = run(d, post_value("temp", "1"));
  test::check_error(msg, service_unavailable);
  CHECK(msg.uint_option(coap::opt::max_age) == 30u);
}

// --- Read ----------------------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "Read 200: the value", "[translate][dispatcher]") {
  auto d = make();
  client.answer(200, "temp=26.1", {{"Content-Type", form_type}});
  auto msg = run(d, get_value("temp"));
  CHECK(msg.code == content);
  CHECK(msg.token == test::token);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(test::text(msg) == "26.1");
  REQUIRE(client.sent.size() == 1);
  CHECK(is_read(0, "temp"));
  CHECK(test::header(client.sent[0], "Accept") == form_type);

  // A value proves the alias exists: a later Write needs no lookup.
  client.answer(204);
  CHECK(run(d, post_value("temp", "1")).code == changed);
  REQUIRE(client.sent.size() == 2);
  CHECK(is_write(1, "temp=1"));
}

TEST_CASE_METHOD(fixture, "Read with the captured binary-CIK datagram", "[translate][dispatcher]") {
  auto d = make();
  client.answer(200, "temp=37");
  auto msg = run(d, test::captured_request("read_binary_cik"));
  CHECK(msg.code == content);
  CHECK(test::text(msg) == "37");
  REQUIRE(client.sent.size() == 1);
  CHECK(is_read(0, "temp"));
}

TEST_CASE_METHOD(fixture, "Read 204 and lookup ok: 2.05 empty", "[translate][dispatcher]") {
  auto d = make();
  client.answer(204);
  client.answer(200, lookup_ok);
  auto msg = run(d, get_value("empty"));
  CHECK(msg.code == content);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(msg.payload.empty());
  REQUIRE(client.sent.size() == 2);
  CHECK(is_read(0, "empty"));
  CHECK(is_lookup(1, "empty"));

  // Cached: the next 204 needs no lookup.
  client.answer(204);
  msg = run(d, get_value("empty"));
  CHECK(msg.code == content);
  CHECK(client.sent.size() == 3);
}

TEST_CASE_METHOD(fixture, "Read 204 and lookup invalid: 4.03", "[translate][dispatcher]") {
  auto d = make();
  client.answer(204);
  client.answer(200, lookup_invalid);
  test::check_error(run(d, get_value("nope")), forbidden);
  REQUIRE(client.sent.size() == 2);
  CHECK(is_read(0, "nope"));
  CHECK(is_lookup(1, "nope"));
}

TEST_CASE_METHOD(fixture, "Read 200 without the alias is checked like a 204",
                 "[translate][dispatcher]") {
  auto d = make();
  client.answer(200, "other=1");
  client.answer(200, lookup_invalid);
  test::check_error(run(d, get_value("nope")), forbidden);
  CHECK(client.sent.size() == 2);
}

TEST_CASE_METHOD(fixture, "Read: upstream statuses and failures", "[translate][dispatcher]") {
  auto d = make();
  SECTION("401") {
    client.answer(401);
    test::check_error(run(d, get_value("temp")), unauthorized);
  }
  SECTION("timed out: 5.04") {
    client.fail(upstream::error::timed_out);
    auto msg = run(d, get_value("temp"));
    test::check_error(msg, gateway_timeout);
  }
  SECTION("connect failed: 5.02") {
    client.fail(upstream::error::connect_failed);
    test::check_error(run(d, get_value("temp")), bad_gateway);
  }
  SECTION("queue full: 5.03 with Max-Age") {
    client.fail(upstream::error::queue_full);
    auto msg = run(d, get_value("temp"));
    test::check_error(msg, service_unavailable);
    CHECK(msg.has(coap::opt::max_age));
  }
  SECTION("503 with Retry-After as seconds: 5.03 with Max-Age") {
    client.answer(503, "", {{"Retry-After", "17"}});
    auto msg = run(d, get_value("temp"));
    test::check_error(msg, service_unavailable);
    CHECK(msg.uint_option(coap::opt::max_age) == 17u);
  }
  SECTION("503 with Retry-After as an HTTP-date") {
    client.answer(503, "", {{"Retry-After", "Wed, 10 Sep 2014 14:55:00 GMT"}});
    auto msg = run(d, get_value("temp"));
    test::check_error(msg, service_unavailable);
    CHECK(msg.uint_option(coap::opt::max_age) == 60u);
  }
  SECTION("429") {
    client.answer(429, "", {{"Retry-After", "2"}});
    auto msg = run(d, get_value("temp"));
    test::check_error(msg, too_many_requests);
    CHECK(msg.uint_option(coap::opt::max_age) == 2u);
  }
  SECTION("500") {
    client.answer(500);
    test::check_error(run(d, get_value("temp")), internal_server_error);
  }
  SECTION("an unreadable form: 5.02") {
    client.answer(200, "temp=%g");
    test::check_error(run(d, get_value("temp")), bad_gateway);
  }
  CHECK(client.sent.size() == 1);
}

TEST_CASE_METHOD(fixture, "missing or malformed CIK: 4.01 without an upstream call",
                 "[translate][dispatcher]") {
  auto d = make();
  test::check_error(run(d, get_value("temp", {})), unauthorized);
  test::check_error(run(d, post_value("temp", "1", {})), unauthorized);
  test::check_error(run(d, get_value("temp", {"not-a-cik"})), unauthorized);
  test::check_error(run(d, get_value("temp", {test::cik.substr(1)})), unauthorized);
  test::check_error(run(d, get_value("temp", {std::string(40, 'g')})), unauthorized);
  test::check_error(run(d, test::make_request(post, {"1a"})), unauthorized);
  test::check_error(run(d, test::make_request(get, {"provision", "download", "v", "m"})),
                    unauthorized);
  CHECK(client.sent.empty());
}

TEST_CASE_METHOD(fixture, "an upper-case CIK goes upstream in lower case",
                 "[translate][dispatcher]") {
  auto d = make();
  std::string upper = test::cik;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  client.answer(200, "temp=1");
  CHECK(run(d, get_value("temp", {upper})).code == content);
  REQUIRE(client.sent.size() == 1);
  CHECK(test::header(client.sent[0], "X-Exosite-CIK") == test::cik);
}

// --- Multiple Read and Write ---------------------------------------------------------------

TEST_CASE_METHOD(fixture, "Multiple Read and Write", "[translate][dispatcher]") {
  auto d = make();
  // {"w1": "26.1"}, reads r1 and r2, no Content-Format (CoAPExample).
  auto request = test::with_payload(test::make_request(post, {"1a"}, {test::cik, "r1", "r2"}),
                                    from_hex("a1 62 77 31 64 32 36 2e 31"));
  SECTION("200") {
    client.answer(200, "r1=99");
    auto msg = run(d, request);
    CHECK(msg.code == content);
    CHECK(msg.content_format() == cf::cbor);
    auto doc = cbor_to_json(msg.payload);
    REQUIRE(doc.has_value());
    CHECK(doc->dump() == R"({"r1":"99","r2":null})");
    REQUIRE(client.sent.size() == 1);
    CHECK(client.sent[0].method == "POST");
    CHECK(client.sent[0].target == "/onep:v1/stack/alias?r1&r2");
    CHECK(client.sent[0].body == "w1=26.1");
  }
  SECTION("204") {
    client.answer(204);
    auto msg = run(d, request);
    CHECK(msg.code == content);
    CHECK(test::to_hex(msg.payload) ==
          "a2"
          "627231"
          "f6"
          "627232"
          "f6");
  }
  SECTION("401") {
    client.answer(401);
    test::check_error(run(d, request), unauthorized);
  }
  SECTION("bad payload: no upstream call") {
    test::check_error(run(d, test::with_payload(request, from_hex("82 01 02"))), bad_request);
    CHECK(client.sent.empty());
  }
}

// --- Provisioning --------------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "Activate", "[translate][dispatcher]") {
  auto d = make();
  const auto request = test::make_request(post, {"provision", "activate", "acme", "widget", "1"});
  SECTION("200: the CIK as text") {
    client.answer(200, test::cik, {{"Content-Type", "text/plain; charset=utf-8"}});
    auto msg = run(d, request);
    CHECK(msg.code == content);
    CHECK(msg.content_format() == cf::text_plain);
    CHECK(test::text(msg) == test::cik);
  }
  SECTION("404: 4.04") {
    client.answer(404);
    test::check_error(run(d, request), not_found);
  }
  SECTION("409: 4.09") {
    client.answer(409);
    test::check_error(run(d, request), conflict);
  }
  REQUIRE(client.sent.size() == 1);
  CHECK(client.sent[0].method == "POST");
  CHECK(client.sent[0].target == "/provision/activate");
  CHECK(client.sent[0].body == "vendor=acme&model=widget&sn=1");
  CHECK_FALSE(test::header(client.sent[0], "X-Exosite-CIK").has_value());
}

TEST_CASE_METHOD(fixture, "List, info and download", "[translate][dispatcher]") {
  auto d = make();
  const auto list =
      test::make_request(get, {"provision", "download", "acme", "widget"}, {test::cik});
  const auto info = test::make_request(
      get, {"provision", "download", "acme", "widget", "fw", "info"}, {test::cik});
  const auto download =
      test::make_request(get, {"provision", "download", "acme", "widget", "fw"}, {test::cik});

  client.answer(200, "fw\ncfg\n", {{"Content-Type", "text/csv; charset=utf-8"}});
  auto msg = run(d, list);
  CHECK(msg.code == content);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(test::text(msg) == "fw\ncfg\n");
  CHECK(client.sent.back().target == "/provision/download?vendor=acme&model=widget");
  CHECK(test::header(client.sent.back(), "X-Exosite-CIK") == test::cik);

  client.answer(200, "application/octet-stream,3,1410360812,v1", {{"Content-Type", "text/csv"}});
  msg = run(d, info);
  CHECK(test::text(msg) == "application/octet-stream,3,1410360812,v1");
  CHECK(client.sent.back().target ==
        "/provision/download?vendor=acme&model=widget&id=fw&info=true");

  // Download: the info call names the version, then a Range window of the bytes.
  client.answer(200, "image/png,3,1410360812,v1", {{"Content-Type", "text/csv"}});
  client.answer(206, "abc", {{"Content-Type", "image/png"}, {"Content-Range", "bytes 0-2/3"}});
  msg = run(d, download);
  CHECK(msg.code == content);
  CHECK(msg.content_format() == cf::octet_stream);
  CHECK(test::text(msg) == "abc");
  CHECK(msg.has(coap::opt::etag));
  CHECK_FALSE(msg.has(coap::opt::block2));  // it fits in one block and none was asked for
  CHECK(client.sent.back().target == "/provision/download?vendor=acme&model=widget&id=fw");
  CHECK(test::header(client.sent.back(), "Range") == "bytes=0-2");

  // Within a second the same version is known: nothing goes upstream.
  msg = run(d, download);
  CHECK(test::text(msg) == "abc");
  CHECK(client.sent.size() == 4);

  // Later the version is checked again; its bytes still come from the cache.
  now += 2s;
  client.answer(200, "image/png,3,1410360812,v1", {{"Content-Type", "text/csv"}});
  msg = run(d, download);
  CHECK(test::text(msg) == "abc");
  CHECK(client.sent.back().target ==
        "/provision/download?vendor=acme&model=widget&id=fw&info=true");

  // "No device or no content": 204, 400, 403 are 4.04 on all three.
  for (unsigned status : {204u, 400u, 403u}) {
    for (const auto* request : {&list, &info, &download}) {
      INFO(status << " " << request->path_string());
      now += 2s;  // past the version check's second
      client.answer(status);
      test::check_error(run(d, *request), not_found);
    }
  }
  now += 2s;
  client.answer(401);
  test::check_error(run(d, download), unauthorized);
  CHECK(client.unused() == 0);
}

TEST_CASE_METHOD(fixture, "Download Content in blocks", "[translate][dispatcher]") {
  auto d = make();
  std::string content(5000, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i % 251);
  const std::string info_body = "application/octet-stream,5000,1400000000,";
  auto block_request = [](std::uint32_t num, std::uint8_t szx) {
    auto r =
        test::make_request(get, {"provision", "download", "acme", "widget", "fw"}, {test::cik});
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
  CHECK(test::header(client.sent.back(), "Range") == "bytes=0-4999");
  CHECK(test::text(first) == content.substr(0, 128));

  // The next blocks within the second need no upstream call at all.
  auto last = run(d, block_request(39, 3));
  auto b39 = coap::decode_block(last.find(coap::opt::block2)->value);
  CHECK(b39 == coap::block_value{39, false, 3});
  CHECK(test::text(last) == content.substr(39 * 128));
  CHECK_FALSE(last.has(coap::opt::size2));
  CHECK(last.find(coap::opt::etag)->value == first.find(coap::opt::etag)->value);

  test::check_error(run(d, block_request(40, 3)), bad_option);  // past the end
  CHECK(client.sent.size() == 2);

  // A new version (another updated timestamp) is fetched again and has another ETag.
  now += 2s;
  client.answer(200, "application/octet-stream,5000,1400000999,");
  client.answer(206, content, {{"Content-Range", "bytes 0-4999/5000"}});
  auto fresh = run(d, block_request(1, 3));
  CHECK(fresh.find(coap::opt::etag)->value != first.find(coap::opt::etag)->value);
  CHECK(client.unused() == 0);
}

// --- Timestamp, RPC, discovery, routing ----------------------------------------------------

TEST_CASE_METHOD(fixture, "Timestamp from upstream", "[translate][dispatcher]") {
  auto d = make();
  client.answer(200, "1410360812\n", {{"Content-Type", "text/plain; charset=utf-8"}});
  auto msg = run(d, test::make_request(get, {"ts"}));
  CHECK(msg.code == content);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(test::text(msg) == "1410360812");
  REQUIRE(client.sent.size() == 1);
  CHECK(client.sent[0].method == "GET");
  CHECK(client.sent[0].target == "/timestamp");

  client.answer(200, "1410360812");
  msg = run(d, test::with_accept(test::make_request(get, {"ts"}), cf::octet_stream));
  CHECK(msg.content_format() == cf::octet_stream);
  CHECK(msg.payload == coap::bytes{0x54, 0x10, 0x65, 0xec});

  client.answer(200, "soon");
  test::check_error(run(d, test::make_request(get, {"ts"})), bad_gateway);
  client.fail(upstream::error::timed_out);
  test::check_error(run(d, test::make_request(get, {"ts"})), gateway_timeout);
  client.answer(500);
  test::check_error(run(d, test::make_request(get, {"ts"})), internal_server_error);
}

TEST_CASE_METHOD(fixture, "Timestamp from the local clock", "[translate][dispatcher]") {
  options.local_timestamp = true;
  auto d = make();
  auto msg = run(d, test::make_request(get, {"ts"}));
  CHECK(msg.code == content);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(test::text(msg) == std::to_string(unix_now));
  msg = run(d, test::with_format(test::make_request(get, {"ts"}), cf::octet_stream));
  CHECK(msg.content_format() == cf::octet_stream);
  CHECK(msg.payload == coap::bytes{0x54, 0x10, 0x66, 0x08});  // 1410360840
  test::check_error(run(d, test::with_accept(test::make_request(get, {"ts"}), cf::json)),
                    not_acceptable);
  CHECK(client.sent.empty());

  // set_options switches the source.
  options.local_timestamp = false;
  d.set_options(options);
  client.answer(200, "5");
  CHECK(test::text(run(d, test::make_request(get, {"ts"}))) == "5");
  CHECK(client.sent.size() == 1);
}

TEST_CASE_METHOD(fixture, "RPC", "[translate][dispatcher]") {
  auto d = make();
  const json call = json::parse(R"({"auth": {"cik": ")" + test::cik +
                                R"("}, "calls": [{"id": 1, "procedure": "read",
                                "arguments": [{"alias": "temp"}, {"limit": 1}]}]})");
  const auto request = test::with_format(
      test::with_payload(test::make_request(post, {"rpc"}), json_to_cbor(call)), cf::cbor);
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
    auto msg = run(d, test::with_accept(request, cf::json));
    CHECK(msg.code == content);
    CHECK(msg.content_format() == cf::json);
    CHECK(test::text(msg) == body);
  }
  SECTION("HTTP 502 from upstream") {
    client.answer(502);
    test::check_error(run(d, request), bad_gateway);
  }
  SECTION("bad CBOR: no upstream call") {
    test::check_error(run(d, test::with_payload(request, from_hex("a1 61"))), bad_request);
    CHECK(client.sent.empty());
  }
}

// Upstream bodies are untrusted input: an odd error member must not escape as an exception.
TEST_CASE_METHOD(fixture, "RPC: an error member that is an array is 5.02, not an exception",
                 "[translate][dispatcher]") {
  auto d = make();
  const auto request = test::with_payload(test::make_request(post, {"rpc"}),
                                          json_to_cbor(json::parse(R"({"calls": []})")));
  client.answer(200, R"({"error": []})");
  coap::message msg;
  CHECK_NOTHROW(msg = run(d, request));
  CHECK(msg.code == bad_gateway);
}

TEST_CASE_METHOD(fixture, "discovery: /.well-known/core without upstream",
                 "[translate][dispatcher]") {
  auto d = make();
  auto msg = run(d, test::make_request(get, {".well-known", "core"}));
  CHECK(msg.code == content);
  CHECK(msg.token == test::token);
  CHECK(msg.content_format() == cf::link_format);
  CHECK(test::text(msg) == well_known_core());
  CHECK(client.sent.empty());
}

TEST_CASE_METHOD(fixture, "unknown paths and methods", "[translate][dispatcher]") {
  auto d = make();
  test::check_error(run(d, test::make_request(get, {"nope"}, {test::cik})), not_found);
  test::check_error(run(d, test::make_request(get, {"1a"}, {test::cik})), method_not_allowed);
  test::check_error(run(d, test::make_request(put, {"1a", "temp"}, {test::cik})),
                    method_not_allowed);
  test::check_error(run(d, test::make_request(post, {"ts"})), method_not_allowed);
  CHECK(client.sent.empty());
}

// RFC 7252 §5.10.4: "If the preferred Content-Format cannot be returned, then a 4.06 'Not
// Acceptable' MUST be sent as a response". Timestamp and RPC check Accept; these must too.
TEST_CASE_METHOD(fixture, "an Accept the answer cannot meet is 4.06", "[translate][dispatcher]") {
  auto d = make();
  SECTION("Read asking for CBOR") {
    client.answer(200, "temp=1");
    auto msg = run(d, test::with_accept(get_value("temp"), cf::cbor));
    test::check_error(msg, not_acceptable);
  }
  SECTION("Multiple Read asking for text") {
    client.answer(200, "r1=1");
    auto msg = run(
        d, test::with_accept(test::make_request(post, {"1a"}, {test::cik, "r1"}), cf::text_plain));
    test::check_error(msg, not_acceptable);
  }
  SECTION("discovery asking for JSON") {
    auto msg =
        run(d, test::with_accept(test::make_request(get, {".well-known", "core"}), cf::json));
    test::check_error(msg, not_acceptable);
  }
  SECTION("the formats they do answer in are accepted") {
    client.answer(200, "temp=1");
    CHECK(run(d, test::with_accept(get_value("temp"), cf::text_plain)).code == content);
    client.answer(200, "r1=1");
    CHECK(run(d, test::with_accept(test::make_request(post, {"1a"}, {test::cik, "r1"}), cf::cbor))
              .code == content);
    CHECK(
        run(d, test::with_accept(test::make_request(get, {".well-known", "core"}), cf::link_format))
            .code == content);
  }
}

}  // namespace
}  // namespace gw::translate
