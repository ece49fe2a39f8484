// libFuzzer target: the state file decoder (gateway/core/state_snapshot.hpp), which reads a
// file anyone with write access to the state directory could have made. Decoding never throws
// and never allocates beyond the input; what it accepts encodes to bytes that decode to the
// same snapshot. Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <span>

#include "gateway/core/state_snapshot.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto decoded = gw::core::decode_snapshot(std::span(data, size));
  if (!decoded) return 0;
  const auto again = gw::core::decode_snapshot(gw::core::encode_snapshot(*decoded));
  GW_FUZZ_CHECK(again && *again == *decoded);
  return 0;
}
