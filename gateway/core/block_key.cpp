#include "gateway/core/block_key.hpp"

#include <algorithm>
#include <array>

namespace gw::core {
namespace {

constexpr std::array<std::uint16_t, 5> keyed_options{
    coap::opt::uri_path, coap::opt::content_format, coap::opt::uri_query,
    coap::opt::accept,   coap::opt::request_tag,
};

bool is_keyed(std::uint16_t number) {
  return std::find(keyed_options.begin(), keyed_options.end(), number) != keyed_options.end();
}

void put_u16(coap::bytes& out, std::size_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

}  // namespace

std::size_t block_key_hash::operator()(const block_key& key) const noexcept {
  base::keyed_hasher h;
  return static_cast<std::size_t>(hash_append_key(h, key.peer).bytes(key.material).finish());
}

block_key make_block_key(const peer& from, const coap::message& request) {
  block_key key{from, {}};
  auto& m = key.material;
  std::size_t length = 2 + 8;
  for (const auto& o : request.options) {
    if (is_keyed(o.number)) length += 4 + o.value.size();
  }
  m.reserve(length);
  m.push_back(request.code.value);
  // Option values can be up to 1034 bytes long, so the length needs two bytes; with the length
  // in front, no two different option lists serialise to the same bytes.
  for (const auto& o : request.options) {
    if (!is_keyed(o.number)) continue;
    put_u16(m, o.number);
    put_u16(m, o.value.size());
    m.insert(m.end(), o.value.begin(), o.value.end());
  }
  return key;
}

}  // namespace gw::core
