#pragma once
// A remote endpoint as a value: which transport and which of our sockets it talked to, and its
// address and port. No Asio here; gateway/server converts.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "base/keyed_hash.hpp"

namespace gw::core {

// coaps (RFC 7252 §9) is a transport of its own: a client speaking plain CoAP and coaps from
// the same address and port is two peers, which never share dedup, MID, block or observe state.
enum class transport : std::uint8_t { udp, dtls };

struct peer {
  std::uint16_t socket = 0;  // index of the local socket (of `via`) the datagram came in on
  bool v6 = false;
  std::array<std::uint8_t, 16> address{};  // IPv4 in the first 4 bytes
  std::uint16_t port = 0;
  transport via = transport::udp;  // last, so that {socket, v6, address, port} still reads

  friend bool operator==(const peer&, const peer&) = default;
  // "127.0.0.1:5683" or "[::1]:5683"
  std::string to_string() const;
};

// Feeds the fields that identify a peer into a hasher, so that keys holding a peer (mid_key,
// block_key, the observe registry's relations) chain them with their own fields.
base::keyed_hasher& hash_append(base::keyed_hasher& h, const peer& p);

// Keyed (base/keyed_hash.hpp): the address and port are the client's to choose.
struct peer_hash {
  std::size_t operator()(const peer& p) const noexcept;
};

}  // namespace gw::core
