// libFuzzer target for the CoAP decoder. Each delta and length has a single encoding, so any
// datagram that decodes must re-encode to exactly its own bytes and decode to the same message.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "gateway/coap/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  const auto header = gw::coap::peek_header(input);
  const auto first = gw::coap::decode(input);
  if (!first) return 0;
  if (!header || header->mid != first->mid || header->code != first->code) std::abort();

  const gw::coap::bytes wire = gw::coap::encode(*first);
  if (!std::equal(wire.begin(), wire.end(), input.begin(), input.end())) std::abort();
  const auto second = gw::coap::decode(wire);
  if (!second || *second != *first) std::abort();
  return 0;
}
