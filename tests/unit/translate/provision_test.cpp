// Plans and renders of the provisioning procedures (upstream-http-api.md "Provisioning").
#include "translate/provision.hpp"

#include <string>

#include <catch2/catch.hpp>

#include "http/form.hpp"
#include "tests/unit/translate/translate_test_support.hpp"
#include "translate/content_format.hpp"

namespace gw::translate {
namespace {

using namespace coap::codes;

// The query of a target, decoded as a form.
http::form_pairs query_of(const upstream::request& r) {
  const auto q = r.target.find('?');
  REQUIRE(q != std::string::npos);
  auto pairs = http::form_decode(std::string_view(r.target).substr(q + 1));
  REQUIRE(pairs.has_value());
  return *pairs;
}

std::string path_of(const upstream::request& r) {
  return r.target.substr(0, r.target.find('?'));
}

TEST_CASE("plan_activate: a form POST without CIK", "[translate][provision]") {
  auto r = plan_activate("acme", "widget", "0001");
  CHECK(r.method == "POST");
  CHECK(r.target == "/provision/activate");
  CHECK(test::header(r, "Content-Type") == "application/x-www-form-urlencoded; charset=utf-8");
  CHECK_FALSE(test::header(r, "X-Exosite-CIK").has_value());
  CHECK(r.body == "vendor=acme&model=widget&sn=0001");

  r = plan_activate("a&b", "m=1", "s n+\xc3\xa9");
  CHECK(r.body == "vendor=a%26b&model=m%3D1&sn=s%20n%2B%C3%A9");
  auto pairs = http::form_decode(r.body);
  REQUIRE(pairs.has_value());
  CHECK(*pairs == http::form_pairs{{"vendor", "a&b"}, {"model", "m=1"}, {"sn", "s n+\xc3\xa9"}});
}

TEST_CASE("plan_list_content: GET with vendor and model, CIK header", "[translate][provision]") {
  auto r = plan_list_content(test::cik, "acme", "widget");
  CHECK(r.method == "GET");
  CHECK(r.target == "/provision/download?vendor=acme&model=widget");
  CHECK(test::header(r, "X-Exosite-CIK") == test::cik);
  CHECK(r.body.empty());
}

TEST_CASE("plan_content_info: id and info=true", "[translate][provision]") {
  auto r = plan_content_info(test::cik, "acme", "widget", "fw.bin");
  CHECK(r.method == "GET");
  CHECK(r.target == "/provision/download?vendor=acme&model=widget&id=fw.bin&info=true");
  CHECK(test::header(r, "X-Exosite-CIK") == test::cik);
  CHECK(r.body.empty());
}

TEST_CASE("plan_download: id without info", "[translate][provision]") {
  auto r = plan_download(test::cik, "acme", "widget", "fw.bin");
  CHECK(r.method == "GET");
  CHECK(r.target == "/provision/download?vendor=acme&model=widget&id=fw.bin");
  CHECK(test::header(r, "X-Exosite-CIK") == test::cik);
  CHECK(r.body.empty());
}

TEST_CASE("provisioning queries are form-encoded", "[translate][provision]") {
  const std::string vendor = "my vendor";
  const std::string model = "m&x=1";
  const std::string id = "fw 1.0+beta/\xc3\xa9?";
  auto r = plan_content_info(test::cik, vendor, model, id);
  CHECK(path_of(r) == "/provision/download");
  CHECK(query_of(r) ==
        http::form_pairs{{"vendor", vendor}, {"model", model}, {"id", id}, {"info", "true"}});
  CHECK(r.target.find(' ') == std::string::npos);
  r = plan_download(test::cik, vendor, model, id);
  CHECK(query_of(r) == http::form_pairs{{"vendor", vendor}, {"model", model}, {"id", id}});
  r = plan_list_content(test::cik, vendor, model);
  CHECK(query_of(r) == http::form_pairs{{"vendor", vendor}, {"model", model}});
}

TEST_CASE("render_text: 2.05 with the upstream text, Content-Format 0", "[translate][provision]") {
  const auto request = test::make_request(post, {"provision", "activate", "acme", "widget", "1"});
  auto msg = render_text(
      request, test::make_answer(200, test::cik, {{"Content-Type", "text/plain; charset=utf-8"}}));
  CHECK(msg.code == content);
  CHECK(msg.token == test::token);
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(test::text(msg) == test::cik);

  // The id list and the info come as text/csv; they are shown as text as they came.
  msg = render_text(
      request, test::make_answer(200, "fw.bin\nconfig.json\n", {{"Content-Type", "text/csv"}}));
  CHECK(msg.content_format() == cf::text_plain);
  CHECK(test::text(msg) == "fw.bin\nconfig.json\n");
  msg = render_text(request, test::make_answer(200, "application/octet-stream,1024,1410360812,v1"));
  CHECK(test::text(msg) == "application/octet-stream,1024,1410360812,v1");
}

TEST_CASE("render_content: Content-Format from the content type, else 42",
          "[translate][provision]") {
  const auto request =
      test::make_request(get, {"provision", "download", "acme", "widget", "fw.bin"}, {test::cik});
  const std::string bytes("\x00\x01\xff\xfe payload", 12);
  const std::vector<std::pair<std::string, std::uint16_t>> cases = {
      {"", cf::octet_stream},
      {"application/octet-stream", cf::octet_stream},
      {"image/png", cf::octet_stream},
      {"text/csv", cf::octet_stream},
      {"text/plain; charset=iso-8859-1", cf::octet_stream},
      {"text/plain; charset=utf-8", cf::text_plain},
      {"application/json", cf::json},
      {"application/cbor", cf::cbor},
      {"application/xml", cf::xml},
  };
  for (const auto& [type, expected] : cases) {
    INFO("content type: " << type);
    content_info info{type, bytes.size(), 1410360812};
    auto msg = render_content(request, info, std::nullopt, bytes);
    CHECK(msg.code == content);
    CHECK(msg.token == test::token);
    CHECK(msg.content_format() == expected);
    CHECK(test::text(msg) == bytes);
    CHECK(msg.find(coap::opt::etag)->value == content_etag(info));
  }
}

TEST_CASE("parse_content_info and the ETag of a content version", "[translate][provision]") {
  auto info = parse_content_info("application/octet-stream,5000,1400000000,version=1,2");
  REQUIRE(info);
  CHECK(info->type == "application/octet-stream");
  CHECK(info->size == 5000u);
  CHECK(info->updated == 1400000000);
  CHECK_FALSE(parse_content_info("text/plain,abc,1,"));
  CHECK_FALSE(parse_content_info("text/plain"));
  CHECK(content_etag({"x", 1, 2}) != content_etag({"x", 1, 3}));
  CHECK(content_etag({"x", 1, 2}) != content_etag({"x", 2, 2}));
}

}  // namespace
}  // namespace gw::translate
