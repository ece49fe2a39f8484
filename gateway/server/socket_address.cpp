#include "gateway/server/socket_address.hpp"

#include <cstring>

#include <netinet/in.h>

namespace gw::server {

core::peer peer_from(std::size_t socket, const sockaddr_storage& from, core::transport via) {
  core::peer p;
  p.via = via;
  p.socket = static_cast<std::uint16_t>(socket);
  if (from.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(from);
    p.v6 = true;
    p.port = ntohs(a.sin6_port);
    std::memcpy(p.address.data(), &a.sin6_addr, 16);
  } else {
    const auto& a = reinterpret_cast<const sockaddr_in&>(from);
    p.port = ntohs(a.sin_port);
    std::memcpy(p.address.data(), &a.sin_addr, 4);
  }
  return p;
}

socklen_t sockaddr_of(const core::peer& p, sockaddr_storage& to) {
  std::memset(&to, 0, sizeof to);
  if (p.v6) {
    auto& a = reinterpret_cast<sockaddr_in6&>(to);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(p.port);
    std::memcpy(&a.sin6_addr, p.address.data(), 16);
    return sizeof a;
  }
  auto& a = reinterpret_cast<sockaddr_in&>(to);
  a.sin_family = AF_INET;
  a.sin_port = htons(p.port);
  std::memcpy(&a.sin_addr, p.address.data(), 4);
  return sizeof a;
}

}  // namespace gw::server
