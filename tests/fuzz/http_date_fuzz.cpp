// libFuzzer target: HTTP-date and the long-poll time headers (http/http_date.hpp), read from
// upstream Last-Modified and Retry-After headers. Parsing never throws; an accepted date in the
// four-digit-year range formats as an IMF-fixdate that parses back to the same instant.
// Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/http_date.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z, what four year digits hold.
constexpr std::int64_t first_second = -62167219200;
constexpr std::int64_t last_second = 253402300799;

void round_trip(std::int64_t t) {
  if (t < first_second || t > last_second) return;
  const auto again = gw::http::parse_http_date(gw::http::format_http_date(t));
  GW_FUZZ_CHECK(again && *again == t);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto t = gw::http::parse_http_date(text)) round_trip(*t);
  if (const auto t = gw::http::parse_time_header(text)) round_trip(*t);
  return 0;
}
