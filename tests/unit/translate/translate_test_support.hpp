#pragma once
// Helpers shared by the plan/render and dispatcher tests: CoAP requests as values, upstream
// responses as values, header look-ups, and the CIK of tests/data/exosite-client-datagrams.json.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "base/ascii.hpp"
#include "gateway/coap/codec.hpp"
#include "gateway/coap/message.hpp"
#include "tests/unit/translate/cbor_test_support.hpp"
#include "upstream/client.hpp"

namespace Catch {
template <>
struct StringMaker<gw::coap::code> {
  static std::string convert(gw::coap::code c) { return c.to_string(); }
};
}  // namespace Catch

namespace gw::translate::test {

// The CIK that the captured datagrams carry in binary form.
inline const std::string cik = "a32c85ba9dda45823be416246cf8b433baa068d7";

inline const coap::bytes token = {0xab, 0xcd};

inline coap::message make_request(coap::code method, const std::vector<std::string>& path,
                                  const std::vector<std::string>& queries = {}) {
  coap::message m;
  m.type = coap::type::con;
  m.code = method;
  m.mid = 0x37;
  m.token = token;
  for (const auto& segment : path) m.add_option(coap::opt::uri_path, segment);
  for (const auto& query : queries) m.add_option(coap::opt::uri_query, query);
  return m;
}

inline coap::message with_format(coap::message m, std::uint16_t format) {
  m.add_uint_option(coap::opt::content_format, format);
  return m;
}

inline coap::message with_accept(coap::message m, std::uint16_t format) {
  m.add_uint_option(coap::opt::accept, format);
  return m;
}

inline coap::message with_payload(coap::message m, std::string_view text) {
  m.set_payload(text);
  return m;
}

inline coap::message with_payload(coap::message m, const std::vector<std::uint8_t>& bytes) {
  m.payload = bytes;
  return m;
}

inline upstream::response make_answer(unsigned status, std::string body = {},
                                      std::vector<upstream::header> headers = {}) {
  upstream::response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

// Case-insensitive, the first match (RFC 9110 §5.1).
inline std::optional<std::string> header(const upstream::request& r, std::string_view name) {
  for (const auto& h : r.headers) {
    if (base::iequals(h.name, name)) return h.value;
  }
  return std::nullopt;
}

inline std::string text(const coap::message& m) {
  return std::string(m.payload_text());
}

// RFC 3629: what an error payload must be (RFC 7252 §5.5.2 diagnostic payload).
inline bool strict_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char low = 0x80, high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      len = 2;
    } else if (lead == 0xe0) {
      len = 3, low = 0xa0;
    } else if (lead == 0xed) {
      len = 3, high = 0x9f;
    } else if (lead >= 0xe1 && lead <= 0xef) {
      len = 3;
    } else if (lead == 0xf0) {
      len = 4, low = 0x90;
    } else if (lead >= 0xf1 && lead <= 0xf3) {
      len = 4;
    } else if (lead == 0xf4) {
      len = 4, high = 0x8f;
    } else {
      return false;
    }
    if (len > s.size() - i) return false;
    const auto second = static_cast<unsigned char>(s[i + 1]);
    if (second < low || second > high) return false;
    for (std::size_t k = 2; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += len;
  }
  return true;
}

// An error the gateway makes: the code, the request's token, a short UTF-8 diagnostic that
// never echoes the CIK.
inline void check_error(const coap::message& m, coap::code expected) {
  CHECK(m.code == expected);
  CHECK(m.token == token);
  CHECK_FALSE(m.payload.empty());
  CHECK(m.payload.size() < 200);
  CHECK(strict_utf8(m.payload_text()));
  CHECK(m.payload_text().find(cik) == std::string_view::npos);
}

inline nlohmann::json load_client_datagrams() {
  const char* dir = std::getenv("GW_TESTDATA");
  REQUIRE(dir != nullptr);
  std::ifstream file(std::string(dir) + "/exosite-client-datagrams.json");
  REQUIRE(file.good());
  return nlohmann::json::parse(file);
}

// A captured datagram of exosite-client-datagrams.json, decoded.
inline coap::message captured_request(std::string_view name) {
  const auto data = load_client_datagrams();
  for (const auto& d : data.at("datagrams")) {
    if (d.at("name") != name) continue;
    auto decoded = coap::decode(from_hex(d.at("hex").get<std::string>()));
    REQUIRE(decoded.has_value());
    return *decoded;
  }
  FAIL("no datagram named " << name);
  return {};
}

// The 20-byte binary CIK as the captured write carries it in its first Uri-Query.
inline std::string binary_cik() {
  const auto queries = captured_request("write_binary_cik").queries();
  REQUIRE(queries.size() == 1);
  REQUIRE(queries.front().size() == 20);
  return queries.front();
}

}  // namespace gw::translate::test
