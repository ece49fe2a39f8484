#include "gateway/coap/message.hpp"

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "gateway/coap/codec.hpp"
#include "gateway/coap/error.hpp"
#include "tests/unit/coap/hex.hpp"

namespace coap = gw::coap;
using coap::bytes;
using coap::test::from_hex;
using coap::test::text;

namespace {

std::vector<std::uint16_t> numbers(const coap::message& m) {
  std::vector<std::uint16_t> out;
  for (const auto& o : m.options) out.push_back(o.number);
  return out;
}

}  // namespace

TEST_CASE("add_option keeps options sorted and repeated options in insertion order", "[message]") {
  coap::message m;
  m.add_option(coap::opt::uri_query, "q1");
  m.add_option(coap::opt::uri_path, "1a");
  m.add_option(coap::opt::uri_host, "h");
  m.add_option(coap::opt::uri_path, "temp");
  m.add_option(coap::opt::uri_query, "q2");
  m.add_option(coap::opt::uri_path, "x");
  CHECK(numbers(m) == std::vector<std::uint16_t>{3, 11, 11, 11, 15, 15});
  CHECK(m.path() == std::vector<std::string>{"1a", "temp", "x"});
  CHECK(m.queries() == std::vector<std::string>{"q1", "q2"});
  CHECK(m.path_string() == "/1a/temp/x");
}

TEST_CASE("set_option replaces every option of its number in place", "[message]") {
  coap::message m;
  m.add_option(coap::opt::etag, from_hex("01"));
  m.add_option(coap::opt::etag, from_hex("02"));
  m.add_option(coap::opt::uri_path, "a");
  m.add_option(coap::opt::if_match, from_hex("aa"));
  m.set_option(coap::opt::etag, from_hex("03"));
  CHECK(numbers(m) == std::vector<std::uint16_t>{1, 4, 11});
  CHECK(m.find(coap::opt::etag)->value == from_hex("03"));

  m.set_uint_option(coap::opt::max_age, 60);
  m.set_uint_option(coap::opt::max_age, 0);
  CHECK(numbers(m) == std::vector<std::uint16_t>{1, 4, 11, 14});
  CHECK(m.find(coap::opt::max_age)->value.empty());

  m.remove_options(coap::opt::uri_path);
  m.remove_options(coap::opt::uri_path);
  CHECK(numbers(m) == std::vector<std::uint16_t>{1, 4, 14});
  CHECK_FALSE(m.has(coap::opt::uri_path));
  CHECK(m.path_string() == "/");
}

TEST_CASE("find and find_all", "[message]") {
  coap::message m;
  CHECK(m.find(coap::opt::uri_path) == nullptr);
  CHECK(m.find_all(coap::opt::uri_path).empty());
  m.add_option(coap::opt::uri_path, "a");
  m.add_option(coap::opt::uri_path, "b");
  const auto all = m.find_all(coap::opt::uri_path);
  REQUIRE(all.size() == 2);
  CHECK(all[0]->value == text("a"));
  CHECK(all[1]->value == text("b"));
  CHECK(m.find(coap::opt::uri_path) == all[0]);
  CHECK(m.has(coap::opt::uri_path));
}

TEST_CASE("uint options: minimal on write, any length up to 8 bytes on read", "[message]") {
  CHECK(coap::encode_uint(0).empty());
  CHECK(coap::encode_uint(1) == from_hex("01"));
  CHECK(coap::encode_uint(255) == from_hex("ff"));
  CHECK(coap::encode_uint(256) == from_hex("0100"));
  CHECK(coap::encode_uint(65535) == from_hex("ffff"));
  CHECK(coap::encode_uint(65536) == from_hex("010000"));
  CHECK(coap::encode_uint(0x0100000000ull) == from_hex("0100000000"));
  CHECK(coap::encode_uint(std::numeric_limits<std::uint64_t>::max()) ==
        from_hex("ffffffffffffffff"));

  CHECK(coap::decode_uint(bytes{}) == 0u);
  CHECK(coap::decode_uint(from_hex("00")) == 0u);
  CHECK(coap::decode_uint(from_hex("00003c")) == 60u);
  CHECK(coap::decode_uint(from_hex("ffffffffffffffff")) ==
        std::numeric_limits<std::uint64_t>::max());
  CHECK_FALSE(coap::decode_uint(from_hex("000000000000000001")).has_value());

  coap::message m;
  CHECK_FALSE(m.uint_option(coap::opt::max_age).has_value());
  m.add_uint_option(coap::opt::max_age, 120);
  CHECK(m.find(coap::opt::max_age)->value == from_hex("78"));
  CHECK(m.uint_option(coap::opt::max_age) == 120u);
  m.add_option(coap::opt::size1, from_hex("010203040506070809"));
  CHECK_FALSE(m.uint_option(coap::opt::size1).has_value());
}

TEST_CASE("content_format and accept", "[message]") {
  coap::message m;
  CHECK_FALSE(m.content_format().has_value());
  CHECK_FALSE(m.accept().has_value());
  m.add_option(coap::opt::content_format, bytes{});
  m.add_uint_option(coap::opt::accept, 60);
  CHECK(m.content_format() == 0);
  CHECK(m.accept() == 60);
  m.set_option(coap::opt::content_format, from_hex("0000ffff"));
  CHECK(m.content_format() == 65535);
  // Not a Content-Format at all: no uint16 value.
  m.set_option(coap::opt::content_format, from_hex("010000"));
  CHECK_FALSE(m.content_format().has_value());
}

TEST_CASE("payload text", "[message]") {
  coap::message m;
  CHECK(m.payload_text().empty());
  m.set_payload("22.5 C");
  CHECK(m.payload == text("22.5 C"));
  CHECK(m.payload_text() == "22.5 C");
}

TEST_CASE("make_response copies the token and nothing else of the request", "[message]") {
  coap::message request;
  request.type = coap::type::non;
  request.code = coap::codes::post;
  request.mid = 0x1234;
  request.token = from_hex("cafe0001");
  request.add_option(coap::opt::uri_path, "1a");
  request.add_uint_option(coap::opt::observe, 0);
  request.set_payload("37");

  const auto r = coap::make_response(request, coap::codes::changed);
  CHECK(r.code == coap::codes::changed);
  CHECK(r.token == request.token);
  CHECK(r.options.empty());
  CHECK(r.payload.empty());

  const auto e = coap::make_error(request, coap::codes::bad_option, "unknown critical option 9");
  CHECK(e.code == coap::codes::bad_option);
  CHECK(e.token == request.token);
  CHECK(e.options.empty());
  // RFC 7252 §5.5.2: a diagnostic payload carries no Content-Format.
  CHECK_FALSE(e.content_format().has_value());
  CHECK(e.payload_text() == "unknown critical option 9");
}

TEST_CASE("make_unavailable is 5.03 with Max-Age and a diagnostic", "[message]") {
  coap::message request;
  request.code = coap::codes::post;
  request.token = {0x01, 0x02};
  request.add_option(coap::opt::uri_path, "rpc");

  const auto m = coap::make_unavailable(request, 7, "upstream busy");
  CHECK(m.code == coap::codes::service_unavailable);
  CHECK(m.token == request.token);
  // RFC 7252 §5.9.3.4: Max-Age tells the client after how many seconds to retry.
  CHECK(m.uint_option(coap::opt::max_age) == 7u);
  CHECK(m.payload_text() == "upstream busy");
  CHECK(m.options.size() == 1);
  // 0 is sent as a zero-length value, not left out: "retry now" differs from the default 60 s.
  const auto now = coap::make_unavailable(request, 0, "x");
  REQUIRE(now.find(coap::opt::max_age) != nullptr);
  CHECK(now.find(coap::opt::max_age)->value.empty());
}

TEST_CASE("code::to_string is c.dd", "[code]") {
  CHECK(coap::codes::empty.to_string() == "0.00");
  CHECK(coap::codes::get.to_string() == "0.01");
  CHECK(coap::codes::ipatch.to_string() == "0.07");
  CHECK(coap::codes::content.to_string() == "2.05");
  CHECK(coap::codes::continue_.to_string() == "2.31");
  CHECK(coap::codes::not_found.to_string() == "4.04");
  CHECK(coap::codes::request_entity_too_large.to_string() == "4.13");
  CHECK(coap::codes::too_many_requests.to_string() == "4.29");
  CHECK(coap::codes::proxying_not_supported.to_string() == "5.05");
  CHECK(coap::code(0xff).to_string() == "7.31");
  CHECK(coap::codes::content.value == 0x45);
  CHECK(coap::codes::too_many_requests.value == 0x9d);
}

TEST_CASE("the coap error category", "[error]") {
  const auto& cat = coap::error_category();
  CHECK(std::string(cat.name()) == "coap");
  std::set<std::string> messages;
  for (int e = static_cast<int>(coap::error::truncated_header);
       e <= static_cast<int>(coap::error::empty_message_not_empty); ++e) {
    const boost::system::error_code ec = static_cast<coap::error>(e);
    CHECK(&ec.category() == &cat);
    CHECK(ec.value() == e);
    CHECK(ec.failed());
    messages.insert(ec.message());
  }
  CHECK(messages.size() == 9);
  CHECK_FALSE(messages.contains(""));
  const boost::system::error_code ec = coap::make_error_code(coap::error::bad_version);
  CHECK(ec == coap::error::bad_version);
  CHECK(ec != coap::error::bad_token_length);
}
