#pragma once
// Observers for the endpoint rig: registering GETs, values, ACKs. Shared by the observe tests.
#include <string_view>

#include "tests/unit/core/endpoint_rig.hpp"

namespace gw::test {

inline coap::message observe_get(std::uint16_t mid, coap::bytes token, bool one_byte_zero = false,
                                 const char* alias = "temp") {
  coap::message m;
  m.type = coap::type::con;
  m.code = coap::codes::get;
  m.mid = mid;
  m.token = std::move(token);
  // Observe 0 as zero bytes (libcoap) or as one byte 0x00 (libexositecoap): both are real.
  m.add_option(coap::opt::observe, one_byte_zero ? coap::bytes{0} : coap::bytes{});
  m.add_option(coap::opt::uri_path, "1a");
  m.add_option(coap::opt::uri_path, alias);
  m.add_option(coap::opt::uri_query, "a32c85ba9dda45823be416246cf8b433baa068d7");
  return m;
}

inline coap::message value(std::string_view text) {
  coap::message m;
  m.code = coap::codes::content;
  m.add_uint_option(coap::opt::content_format, 0);
  m.set_payload(text);
  return m;
}

// Registers `token` from `from` on `alias` and answers the registration with "v0".
inline core::resource_key register_observer(rig& r, coap::bytes token,
                                            const core::peer& from = client,
                                            std::uint16_t mid = 100, const char* alias = "temp",
                                            coap::type type = coap::type::con) {
  auto req = observe_get(mid, token, false, alias);
  req.type = type;
  r.receive(req, r.t0, from);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  auto resp = coap::make_response(fw[0].request, coap::codes::content);
  resp.set_payload("v0");
  r.ep.on_response(fw[0].id, resp, r.t0);
  return *observable(req);
}

inline void ack(rig& r, const coap::message& notification, time_point at,
                const core::peer& from = client) {
  coap::message a;
  a.type = coap::type::ack;
  a.mid = notification.mid;
  r.receive(a, at, from);
}

}  // namespace gw::test
