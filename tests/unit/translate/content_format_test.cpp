// The Content-Format table: HTTP media types -> CoAP Content-Format numbers.
#include "translate/content_format.hpp"

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

namespace gw::translate {
namespace {

TEST_CASE("the registry numbers", "[translate][content_format]") {
  // RFC 7252 §12.3 and RFC 8949 §9.5.
  CHECK(cf::text_plain == 0);
  CHECK(cf::link_format == 40);
  CHECK(cf::xml == 41);
  CHECK(cf::octet_stream == 42);
  CHECK(cf::json == 50);
  CHECK(cf::cbor == 60);
}

TEST_CASE("media types map to Content-Formats, parameters ignored", "[translate][content_format]") {
  const std::vector<std::pair<std::string_view, std::optional<std::uint16_t>>> cases = {
      {"text/plain", 0},
      {"text/plain; charset=utf-8", 0},
      {"text/plain;charset=UTF-8", 0},
      {"TEXT/Plain; Charset=\"utf-8\"", 0},
      {"text/plain; charset=us-ascii", 0},
      {"text/plain; format=flowed", 0},
      {"application/link-format", 40},
      {"application/xml", 41},
      {"text/xml; charset=utf-8", 41},
      {"application/octet-stream", 42},
      {"application/json", 50},
      {"application/json; charset=utf-8", 50},
      {"  application/json  ; charset=utf-8", 50},
      {"application/cbor", 60},
      // text/plain in another charset is not Content-Format 0 (RFC 7252 §12.3: UTF-8 only).
      {"text/plain; charset=iso-8859-1", std::nullopt},
      {"text/plain; charset=utf-16", std::nullopt},
      {"text/csv", std::nullopt},
      {"text/csv; charset=utf-8", std::nullopt},
      {"image/png", std::nullopt},
      {"application/x-www-form-urlencoded", std::nullopt},
      {"", std::nullopt},
      {";", std::nullopt},
      {"application/jsonx", std::nullopt},
  };
  for (const auto& [type, expected] : cases) {
    INFO("Content-Type: " << type);
    CHECK(cf::from_media_type(type) == expected);
  }
}

}  // namespace
}  // namespace gw::translate
