#pragma once
// What a client answers to a datagram the endpoint sent: an empty ACK with its Message ID when
// it is a CON (RFC 7252 §4.2), nothing otherwise. For the benchmarks that play the observers.
#include <optional>

#include "gateway/coap/codec.hpp"

namespace gw::bench {

inline std::optional<coap::bytes> ack_for(const coap::bytes& datagram) {
  auto sent = coap::decode(datagram);
  if (!sent || sent->type != coap::type::con) return std::nullopt;
  coap::message ack;
  ack.type = coap::type::ack;
  ack.mid = sent->mid;
  return coap::encode(ack);
}

}  // namespace gw::bench
