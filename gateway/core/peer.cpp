#include "gateway/core/peer.hpp"

#include <arpa/inet.h>

namespace gw::core {

std::string peer::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, address.data(), text, sizeof text);
  return v6 ? "[" + std::string(text) + "]:" + std::to_string(port)
            : std::string(text) + ":" + std::to_string(port);
}

base::keyed_hasher& hash_append(base::keyed_hasher& h, const peer& p) {
  return h.bytes(p.address)
      .integer(p.port)
      .integer(p.socket)
      .integer(std::uint8_t{p.v6})
      .integer(static_cast<std::uint8_t>(p.via));
}

std::uint64_t peer::compute_hash() const {
  base::keyed_hasher h;
  const auto value = hash_append(h, *this).finish();
  return value == 0 ? 1 : value;  // 0 means "not worked out yet"
}

}  // namespace gw::core
