#include "gateway/coap/codec.hpp"

#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "gateway/coap/option_number.hpp"
#include "tests/unit/coap/hex.hpp"

namespace coap = gw::coap;
using coap::bytes;
using coap::test::from_hex;
using coap::test::text;
using coap::test::to_hex;

namespace {

// As captured from real Exosite clients (tests/data/exosite-client-datagrams.json).
constexpr const char* write_binary_cik =
    "400200f6b231610474656d704d07a32c85ba9dda45823be416246cf8b433baa068d7ff3337";
constexpr const char* read_binary_cik =
    "400100f6b231610474656d704d07a32c85ba9dda45823be416246cf8b433baa068d7";
constexpr const char* binary_cik = "a32c85ba9dda45823be416246cf8b433baa068d7";

coap::message decode_ok(const bytes& datagram) {
  auto r = coap::decode(datagram);
  INFO("datagram " << to_hex(datagram));
  REQUIRE(r.has_value());
  return *r;
}

std::string repeat(char c, std::size_t n) {
  return std::string(n, c);
}

}  // namespace

// RFC 7252 Appendix A: the exchanges of Figures 16-21 written out as bytes.
TEST_CASE("RFC 7252 Appendix A exchanges decode and re-encode byte for byte", "[codec]") {
  struct vector {
    const char* hex;
    coap::type type;
    coap::code code;
    std::uint16_t mid;
    const char* token;
    std::vector<std::string> path;
    const char* payload;
  };
  const std::string uri = "bb 74656d7065726174757265";  // Uri-Path "temperature"
  const std::vector<vector> vectors{
      {"40 01 7d34", coap::type::con, coap::codes::get, 0x7d34, "", {"temperature"}, ""},
      {"60 45 7d34 ff 32322e332043",
       coap::type::ack,
       coap::codes::content,
       0x7d34,
       "",
       {},
       "22.3 C"},
      {"41 01 7d35 20", coap::type::con, coap::codes::get, 0x7d35, "20", {"temperature"}, ""},
      {"61 45 7d35 20 ff 32322e352043",
       coap::type::ack,
       coap::codes::content,
       0x7d35,
       "20",
       {},
       "22.5 C"},
      {"60 00 7a10", coap::type::ack, coap::codes::empty, 0x7a10, "", {}, ""},
      {"41 45 23bb 73 ff 32322e352043",
       coap::type::con,
       coap::codes::content,
       0x23bb,
       "73",
       {},
       "22.5 C"},
      {"51 01 7a11 74", coap::type::non, coap::codes::get, 0x7a11, "74", {"temperature"}, ""},
      {"51 45 23bc 74 ff 32322e352043",
       coap::type::non,
       coap::codes::content,
       0x23bc,
       "74",
       {},
       "22.5 C"},
      {"40 00 7d36", coap::type::con, coap::codes::empty, 0x7d36, "", {}, ""},
      {"70 00 7d36", coap::type::rst, coap::codes::empty, 0x7d36, "", {}, ""},
  };
  for (const auto& v : vectors) {
    const bytes wire = from_hex(std::string(v.hex) + (v.path.empty() ? "" : uri));
    const auto msg = decode_ok(wire);
    CHECK(msg.type == v.type);
    CHECK(msg.code == v.code);
    CHECK(msg.mid == v.mid);
    CHECK(msg.token == from_hex(v.token));
    CHECK(msg.path() == v.path);
    CHECK(msg.payload_text() == v.payload);
    CHECK(to_hex(coap::encode(msg)) == to_hex(wire));
  }
}

TEST_CASE("Exosite client datagrams: Write and Read with the binary CIK", "[codec][exosite]") {
  const auto write = decode_ok(from_hex(write_binary_cik));
  CHECK(write.type == coap::type::con);
  CHECK(write.code == coap::codes::post);
  CHECK(write.mid == 0x00f6);
  CHECK(write.token.empty());
  CHECK(write.path() == std::vector<std::string>{"1a", "temp"});
  CHECK(write.path_string() == "/1a/temp");
  REQUIRE(write.queries().size() == 1);
  const coap::option* query = write.find(coap::opt::uri_query);
  REQUIRE(query != nullptr);
  CHECK(query->value.size() == 20);
  CHECK(query->value == from_hex(binary_cik));
  CHECK(write.payload_text() == "37");
  CHECK(write.options.size() == 3);
  CHECK(to_hex(coap::encode(write)) == write_binary_cik);

  const bytes read_wire = from_hex(read_binary_cik);
  CHECK(read_wire.size() == 34);
  const auto read = decode_ok(read_wire);
  CHECK(read.code == coap::codes::get);
  CHECK(read.mid == 0x00f6);
  CHECK(read.path_string() == "/1a/temp");
  CHECK(read.find(coap::opt::uri_query)->value == from_hex(binary_cik));
  CHECK(read.payload.empty());
  CHECK(to_hex(coap::encode(read)) == read_binary_cik);
}

TEST_CASE("every datagram of the Exosite client capture file decodes and re-encodes",
          "[codec][exosite]") {
  const char* dir = std::getenv("GW_TESTDATA");
  REQUIRE(dir != nullptr);
  std::ifstream file(std::string(dir) + "/exosite-client-datagrams.json");
  REQUIRE(file);
  const auto doc = nlohmann::json::parse(file);
  const auto& datagrams = doc.at("datagrams");
  REQUIRE(datagrams.size() >= 3);
  for (const auto& d : datagrams) {
    const std::string name = d.at("name");
    const std::string hex = d.at("hex");
    INFO(name);
    if (name == "write_binary_cik") CHECK(hex == write_binary_cik);
    if (name == "read_binary_cik") CHECK(hex == read_binary_cik);
    const auto msg = decode_ok(from_hex(hex));
    CHECK(to_hex(coap::encode(msg)) == hex);
    if (name == "server_ack_changed") {
      CHECK(msg.type == coap::type::ack);
      CHECK(msg.code == coap::codes::changed);
      CHECK(msg.mid == 0x0037);
    }
  }
}

TEST_CASE("option delta and length cross the 13 and 269 boundaries", "[codec]") {
  struct vector {
    std::uint16_t number;
    const char* option_header;
  };
  // Option number as the first delta, with an empty value.
  const std::vector<vector> deltas{
      {0, "00"},        {12, "c0"},       {13, "d0 00"},    {14, "d0 01"},    {268, "d0 ff"},
      {269, "e0 0000"}, {270, "e0 0001"}, {524, "e0 00ff"}, {525, "e0 0100"}, {65535, "e0 fef2"},
  };
  for (const auto& v : deltas) {
    coap::message msg;
    msg.code = coap::codes::get;
    msg.mid = 0x1234;
    msg.add_option(v.number, coap::bytes{});
    const bytes wire = from_hex(std::string("40 01 1234 ") + v.option_header);
    INFO("option " << v.number);
    CHECK(to_hex(coap::encode(msg)) == to_hex(wire));
    CHECK(coap::encoded_size(msg) == wire.size());
    CHECK(decode_ok(wire) == msg);
  }

  // Value lengths: the length nibble uses the same extended forms.
  const std::vector<std::pair<std::size_t, const char*>> lengths{
      {0, "10"}, {12, "1c"}, {13, "1d 00"}, {268, "1d ff"}, {269, "1e 0000"}, {1034, "1e 02fd"},
  };
  for (const auto& [length, head] : lengths) {
    coap::message msg;
    msg.code = coap::codes::get;
    msg.add_option(coap::opt::if_match, bytes(length, 0xab));
    const bytes wire = from_hex(std::string("40 01 0000 ") + head + to_hex(bytes(length, 0xab)));
    INFO("length " << length);
    CHECK(to_hex(coap::encode(msg)) == to_hex(wire));
    CHECK(coap::encoded_size(msg) == wire.size());
    CHECK(decode_ok(wire) == msg);
  }

  // Both nibbles extended in one option header: delta 300 (14) and length 20 (13).
  coap::message both;
  both.code = coap::codes::get;
  both.add_option(300, bytes(20, 0x01));
  CHECK(to_hex(coap::encode(both)).substr(8, 8) == "ed001f07");
  CHECK(coap::encoded_size(both) == coap::encode(both).size());
  CHECK(coap::decode(coap::encode(both)).value() == both);
}

TEST_CASE("deltas are relative to the previous option", "[codec]") {
  // Uri-Path (11), Uri-Path (delta 0), Content-Format 12 (delta 1), Uri-Query 15 (delta 3),
  // Block2 23 (delta 8), Size1 60 (delta 37 = 13 + 24), Echo 252 (delta 192), 65535.
  coap::message msg;
  msg.type = coap::type::non;
  msg.code = coap::codes::post;
  msg.mid = 0xbeef;
  msg.token = from_hex("0102030405060708");
  msg.add_option(coap::opt::uri_path, "a");
  msg.add_option(coap::opt::uri_path, "b");
  msg.add_uint_option(coap::opt::content_format, 60);
  msg.add_option(coap::opt::uri_query, "x=1");
  msg.add_uint_option(coap::opt::block2, 0x16);
  msg.add_uint_option(coap::opt::size1, 1000);
  msg.add_option(coap::opt::echo, from_hex("aa"));
  msg.add_option(65535, from_hex("01"));
  msg.set_payload("hi");
  const bytes wire = from_hex(
      "58 02 beef 0102030405060708"
      " b1 61  01 62  11 3c  33 783d31  81 16  d2 18 03e8  d1 b3 aa  e1 fdf6 01"
      " ff 6869");
  CHECK(to_hex(coap::encode(msg)) == to_hex(wire));
  CHECK(decode_ok(wire) == msg);
}

TEST_CASE("repeated options keep their order through decode and encode", "[codec]") {
  const bytes wire = from_hex("40 01 0001 b3 616161 01 62 03 636363 02 6464 41 31");
  const auto msg = decode_ok(wire);
  CHECK(msg.path() == std::vector<std::string>{"aaa", "b", "ccc", "dd"});
  CHECK(msg.queries() == std::vector<std::string>{"1"});
  CHECK(coap::encode(msg) == wire);
}

TEST_CASE("option number 65535 decodes; anything beyond is an overflow", "[codec]") {
  const auto msg = decode_ok(from_hex("40 01 0001 e1 fef2 07"));
  REQUIRE(msg.options.size() == 1);
  CHECK(msg.options[0].number == 65535);
  CHECK(msg.options[0].value == from_hex("07"));
  // Reaching 65535 in two steps is the same number.
  CHECK(decode_ok(from_hex("40 01 0001 e0 fef1 10")).options.back().number == 65535);
}

TEST_CASE("round trips through encode and decode", "[codec]") {
  std::vector<coap::message> messages;
  for (const auto t : {coap::type::con, coap::type::non, coap::type::ack, coap::type::rst}) {
    coap::message m;
    m.type = t;
    m.code = coap::codes::content;
    m.mid = 0xffff;
    messages.push_back(m);
  }
  for (std::size_t tkl = 0; tkl <= 8; ++tkl) {
    coap::message m;
    m.code = coap::codes::get;
    m.mid = static_cast<std::uint16_t>(tkl);
    m.token = bytes(tkl, static_cast<std::uint8_t>(0xf0 + tkl));
    messages.push_back(m);
  }
  {
    coap::message m = coap::make_error(messages.back(), coap::codes::bad_option, "bad option 9");
    m.type = coap::type::ack;
    messages.push_back(m);
  }
  {
    coap::message m;
    m.code = coap::codes::post;
    m.add_option(coap::opt::uri_host, "example.com");
    m.add_uint_option(coap::opt::observe, 0);
    m.add_uint_option(coap::opt::max_age, 0xffffffff);
    m.add_option(coap::opt::proxy_uri, repeat('u', 1034));
    m.add_option(coap::opt::request_tag, bytes{});
    m.add_option(1000, repeat('z', 300));
    m.payload = bytes(2000, 0xff);  // payload bytes equal to the marker are just payload
    messages.push_back(m);
  }
  for (const auto& m : messages) {
    const bytes wire = coap::encode(m);
    CHECK(coap::encoded_size(m) == wire.size());
    const auto back = coap::decode(wire);
    REQUIRE(back.has_value());
    CHECK(*back == m);
    CHECK(coap::encode(*back) == wire);
  }
}

TEST_CASE("option values are bytes: non-minimal uints survive unchanged", "[codec]") {
  // Content-Format 0 as one zero byte and Observe 0 as one byte 0x00 (libexositecoap).
  const bytes wire = from_hex("40 01 0001 61 00 61 00");
  const auto msg = decode_ok(wire);
  CHECK(msg.find(coap::opt::observe)->value == from_hex("00"));
  CHECK(msg.uint_option(coap::opt::observe) == 0u);
  CHECK(msg.content_format() == 0u);
  CHECK(coap::encode(msg) == wire);
}

TEST_CASE("codes outside the request and response classes are left to the message layer",
          "[codec]") {
  // RFC 7252 §4.2/§4.3 decide what to do with classes 1, 6 and 7; the codec only reads them.
  CHECK(decode_ok(from_hex("40 20 0001")).code == coap::code(1, 0));
  CHECK(decode_ok(from_hex("40 ff 0001")).code == coap::code(7, 31));
}

TEST_CASE("peek_header reads the fixed header even when the rest is malformed", "[codec]") {
  const auto h = coap::peek_header(from_hex("400200f6b231"));  // cut inside an option
  REQUIRE(h.has_value());
  CHECK(h->type == coap::type::con);
  CHECK(h->token_length == 0);
  CHECK(h->code == coap::codes::post);
  CHECK(h->mid == 0x00f6);

  const auto reserved_tkl = coap::peek_header(from_hex("5f 01 abcd"));
  REQUIRE(reserved_tkl.has_value());
  CHECK(reserved_tkl->type == coap::type::non);
  CHECK(reserved_tkl->token_length == 15);
  CHECK(reserved_tkl->mid == 0xabcd);

  CHECK(coap::peek_header(from_hex("7000 1234"))->type == coap::type::rst);
  CHECK_FALSE(coap::peek_header(bytes{}).has_value());
  CHECK_FALSE(coap::peek_header(from_hex("400100")).has_value());
  CHECK_FALSE(coap::peek_header(from_hex("00010001")).has_value());
  CHECK_FALSE(coap::peek_header(from_hex("80010001")).has_value());
  CHECK_FALSE(coap::peek_header(from_hex("c0010001")).has_value());
}

namespace {

std::vector<bytes> valid_messages() {
  coap::message big;
  big.type = coap::type::non;
  big.code = coap::codes::put;
  big.mid = 0x0102;
  big.token = from_hex("0a0b0c0d");
  big.add_option(coap::opt::uri_path, repeat('p', 20));
  big.add_option(coap::opt::uri_query, repeat('q', 300));
  big.add_uint_option(coap::opt::block1, 0x0123e);
  big.add_option(65535, from_hex("ff"));
  big.set_payload("payload");
  return {
      from_hex(write_binary_cik),
      from_hex(read_binary_cik),
      from_hex("61 45 7d35 20 ff 32322e352043"),
      from_hex("58 02 beef 0102030405060708 b1 61 01 62 d2 18 03e8 ff 6869"),
      coap::encode(big),
  };
}

}  // namespace

// Every datagram cut at every length: never an out-of-bounds read; either a clean error or a
// shorter message that is itself canonical (so it re-encodes to exactly the prefix).
TEST_CASE("every truncated prefix decodes cleanly or fails with a coap error", "[codec]") {
  for (const bytes& full : valid_messages()) {
    REQUIRE(coap::decode(full).has_value());
    for (std::size_t n = 0; n < full.size(); ++n) {
      const bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      const auto r = coap::decode(prefix);
      INFO(to_hex(full) << " cut to " << n);
      if (n < 4) {
        CHECK(r.error() == coap::error::truncated_header);
      } else if (r.has_value()) {
        CHECK(coap::encode(*r) == prefix);
      } else {
        CHECK(r.error().category() == coap::error_category());
        CHECK(r.error() != coap::error::bad_version);
        CHECK(r.error() != coap::error::reserved_option_nibble);
      }
    }
  }
}

// Seeded, so a failure reproduces. Encoding has one form per delta and length, which makes
// decode -> encode the identity on every datagram that decodes at all.
TEST_CASE("mutated datagrams never break the codec", "[codec]") {
  std::mt19937 rng(20240607);
  const auto seeds = valid_messages();
  std::size_t decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    bytes d = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !d.empty(); ++e) {
      const std::size_t at = rng() % d.size();
      switch (rng() % 4) {
        case 0:
          d[at] = static_cast<std::uint8_t>(rng());
          break;
        case 1:
          d[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
          break;
        case 2:
          d.resize(at);
          break;
        default:
          d.insert(d.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(rng()));
      }
    }
    const auto r = coap::decode(d);
    if (!r) continue;
    ++decoded;
    if (coap::encode(*r) != d) FAIL("re-encode differs for " << to_hex(d));
  }
  CHECK(decoded > 1000);
}
