#pragma once
// Between the kernel's socket addresses and core::peer, for the plain and the coaps sockets
// alike (recvmmsg/sendmmsg and recvmsg/sendto). Internal to gw_server.
#include <cstddef>

#include <sys/socket.h>

#include "gateway/core/peer.hpp"

namespace gw::server {

// The peer that sent to local socket `socket` of transport `via`.
core::peer peer_from(std::size_t socket, const sockaddr_storage& from,
                     core::transport via = core::transport::udp);
// Fills `to` with `p`'s address; its length.
socklen_t sockaddr_of(const core::peer& p, sockaddr_storage& to);

}  // namespace gw::server
