// libFuzzer target for CBOR <-> JSON; not part of the CMake build. From the repository root:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     tests/fuzz/cbor_fuzz.cpp translate/cbor_decode.cpp translate/cbor_encode.cpp -lcbor \
//     -o cbor_fuzz && ./cbor_fuzz -max_len=4096
// Each input is tried as CBOR (the decoder never crashes, and what it accepts converts back
// unchanged) and as JSON text (JSON -> CBOR -> JSON is identity within the depth limit).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "tests/unit/translate/cbor_test_support.hpp"
#include "translate/cbor_json.hpp"

namespace {

using gw::translate::cbor_to_json;
using gw::translate::json;
using gw::translate::json_to_cbor;
using gw::translate::test::same_document;

void check(bool condition) {
  if (!condition) std::abort();
}

void fuzz_cbor(std::span<const std::uint8_t> input) {
  const auto decoded = cbor_to_json(input);
  if (decoded.has_error()) {
    check(decoded.error().offset <= input.size());
    return;
  }
  (void)decoded->dump();  // throws, and so aborts the fuzzer, on invalid UTF-8
  const auto again = cbor_to_json(json_to_cbor(*decoded));
  check(again.has_value() && same_document(*again, *decoded));
}

void fuzz_json(std::span<const std::uint8_t> input) {
  const json document = json::parse(input.begin(), input.end(), nullptr, false);
  if (document.is_discarded()) return;
  const auto decoded = cbor_to_json(json_to_cbor(document));
  if (decoded.has_error()) {
    check(decoded.error().message == "nesting deeper than 64");
    return;
  }
  // Compared with the document as its JSON text says: an overflowing literal such as 1e999 is
  // read as infinity, which the text (and the CBOR) can only carry as null.
  check(same_document(*decoded, json::parse(document.dump())));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  fuzz_cbor(input);
  fuzz_json(input);
  return 0;
}
