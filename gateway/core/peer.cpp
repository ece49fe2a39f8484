#include "gateway/core/peer.hpp"

#include <arpa/inet.h>

namespace gw::core {

std::string peer::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, address.data(), text, sizeof text);
  return v6 ? "[" + std::string(text) + "]:" + std::to_string(port)
            : std::string(text) + ":" + std::to_string(port);
}

std::size_t peer_hash::operator()(const peer& p) const noexcept {
  // FNV-1a over the fields that identify the peer.
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::uint8_t b) { h = (h ^ b) * 1099511628211ULL; };
  for (auto b : p.address) mix(b);
  mix(static_cast<std::uint8_t>(p.port >> 8));
  mix(static_cast<std::uint8_t>(p.port));
  mix(static_cast<std::uint8_t>(p.socket));
  mix(static_cast<std::uint8_t>(p.v6));
  return static_cast<std::size_t>(h);
}

}  // namespace gw::core
