// libFuzzer target: byte ranges (http/range.hpp): the Range header onep-sim evaluates and the
// Content-Range the gateway reads from a download's 206. Byte 0 picks the representation size
// (bit 0 set: the next 8 bytes, big-endian; else byte 0 >> 1); the rest is the header value.
// Parsing never throws; a satisfiable range lies inside the representation (RFC 9110 §14.1.2);
// an accepted Content-Range is ordered and inside its total (§14.4) and formats back to itself.
// Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/range.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gw::http;
  if (size == 0) return 0;
  std::uint64_t total = data[0] >> 1;
  std::size_t at = 1;
  if ((data[0] & 1) && size >= 9) {
    total = 0;
    for (; at < 9; ++at) total = total << 8 | data[at];
  }
  const std::string_view text(reinterpret_cast<const char*>(data) + at, size - at);

  const range_request r = parse_range(text, total);
  if (r.kind == range_kind::satisfiable) {
    GW_FUZZ_CHECK(r.range.first <= r.range.last && r.range.last < total);
    const range_request again = parse_range(format_range(r.range), total);
    GW_FUZZ_CHECK(again.kind == range_kind::satisfiable && again.range == r.range);
  }
  if (r.kind == range_kind::unsatisfiable) (void)format_unsatisfied_range(total);

  const auto cr = parse_content_range(text);
  if (cr) {
    GW_FUZZ_CHECK(cr->range || cr->total);
    if (cr->range) GW_FUZZ_CHECK(cr->range->first <= cr->range->last);
    if (cr->range && cr->total) {
      GW_FUZZ_CHECK(cr->range->last < *cr->total);
      const auto again = parse_content_range(format_content_range(*cr->range, *cr->total));
      GW_FUZZ_CHECK(again && *again == *cr);
    }
    if (!cr->range) {
      const auto again = parse_content_range(format_unsatisfied_range(*cr->total));
      GW_FUZZ_CHECK(again && *again == *cr);
    }
  }
  return 0;
}
