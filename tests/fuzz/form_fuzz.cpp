// libFuzzer target: form and percent decoding (http/form.hpp) on the bodies and queries the One
// Platform answers with. Decoding never throws; what decodes encodes and decodes back to the
// same pairs, and percent_encode/percent_decode are inverse (RFC 3986 §2.1).
// Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/form.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gw::http;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto pairs = form_decode(text);
  if (pairs) {
    const auto again = form_decode(form_encode(*pairs));
    GW_FUZZ_CHECK(again && *again == *pairs);
  }

  const auto plain = percent_decode(text);
  if (plain) {
    const auto component = form_component_decode(percent_encode(*plain));
    GW_FUZZ_CHECK(component && *component == *plain);
  }
  const auto decoded = percent_decode(percent_encode(text));
  GW_FUZZ_CHECK(decoded && *decoded == text);

  (void)form_component_decode(text);
  return 0;
}
