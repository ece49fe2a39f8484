// libFuzzer target: JSON -> CBOR (translate/cbor_json.hpp) on JSON text, as an RPC answer from
// the upstream brings it. Whatever nlohmann accepts converts to CBOR that decodes back to the
// same document (DESIGN.md: the round trip is identity), unless it nests deeper than the
// decoder's limit. Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <span>

#include "tests/fuzz/fuzz_check.hpp"
#include "tests/unit/translate/cbor_test_support.hpp"
#include "translate/cbor_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gw::translate;
  const std::span<const std::uint8_t> input(data, size);
  const json document = json::parse(input.begin(), input.end(), nullptr, false);
  if (document.is_discarded()) return 0;
  const auto decoded = cbor_to_json(json_to_cbor(document));
  if (decoded.has_error()) {
    GW_FUZZ_CHECK(decoded.error().message == "nesting deeper than 64");
    return 0;
  }
  // Compared with the document as its JSON text says: an overflowing literal such as 1e999 is
  // read as infinity, which the text (and the CBOR) can only carry as null.
  GW_FUZZ_CHECK(test::same_document(*decoded, json::parse(document.dump())));
  return 0;
}
