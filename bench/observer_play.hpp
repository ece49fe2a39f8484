#pragma once
// The observers' side for the benchmarks that drive a core::endpoint with no sockets: their
// registration GETs, the handler's answers to what the endpoint forwards, and the ACKs a client
// sends back to a CON (RFC 7252 §4.2).
#include <optional>
#include <string_view>

#include "gateway/coap/codec.hpp"
#include "gateway/core/endpoint.hpp"

namespace gw::bench {

// A GET of /1a/temp for `cik`, with Observe 0 when `observe`.
inline coap::bytes observe_get(std::uint16_t mid, coap::bytes token, std::string_view cik,
                               bool observe = true) {
  coap::message m;
  m.type = coap::type::con;
  m.code = coap::codes::get;
  m.mid = mid;
  m.token = std::move(token);
  if (observe) m.add_option(coap::opt::observe, coap::bytes{});
  m.add_option(coap::opt::uri_path, "1a");
  m.add_option(coap::opt::uri_path, "temp");
  m.add_option(coap::opt::uri_query, cik);
  return coap::encode(m);
}

// Answers every forwarded request at once with 2.05 and `payload`, as the upstream would.
inline void answer_forwards(core::endpoint& ep, std::string_view payload, core::time_point now) {
  for (auto& f : ep.take_forwards()) {
    auto r = coap::make_response(f.request, coap::codes::content);
    r.set_payload(payload);
    ep.on_response(f.id, std::move(r), now);
  }
}

// An empty ACK with the datagram's Message ID when it is a CON; nothing otherwise.
inline std::optional<coap::bytes> ack_for(const coap::bytes& datagram) {
  auto sent = coap::decode(datagram);
  if (!sent || sent->type != coap::type::con) return std::nullopt;
  coap::message ack;
  ack.type = coap::type::ack;
  ack.mid = sent->mid;
  return coap::encode(ack);
}

}  // namespace gw::bench
