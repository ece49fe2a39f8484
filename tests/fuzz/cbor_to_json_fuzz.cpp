// libFuzzer target: CBOR -> JSON (translate/cbor_json.hpp) on the bytes a device sends as a
// Multiple Read/Write or RPC payload. The decoder never crashes or throws; an error names an
// offset inside the input; an accepted item is valid UTF-8 JSON and converts back to CBOR and
// to JSON again unchanged. Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <span>

#include "tests/fuzz/fuzz_check.hpp"
#include "tests/unit/translate/cbor_test_support.hpp"
#include "translate/cbor_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gw::translate;
  const std::span<const std::uint8_t> input(data, size);
  const auto decoded = cbor_to_json(input);
  if (decoded.has_error()) {
    GW_FUZZ_CHECK(decoded.error().offset <= input.size());
    GW_FUZZ_CHECK(!decoded.error().message.empty());
    return 0;
  }
  (void)decoded->dump();  // throws, and so aborts the fuzzer, on invalid UTF-8
  const auto again = cbor_to_json(json_to_cbor(*decoded));
  GW_FUZZ_CHECK(again.has_value() && test::same_document(*again, *decoded));
  return 0;
}
