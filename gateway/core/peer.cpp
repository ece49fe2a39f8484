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

std::size_t peer_hash::operator()(const peer& p) const noexcept {
  base::keyed_hasher h;
  return static_cast<std::size_t>(hash_append(h, p).finish());
}

}  // namespace gw::core
