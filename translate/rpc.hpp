#pragma once
// The RPC proxy: CBOR (or JSON) from the device -> JSON-RPC upstream -> CBOR (or JSON) back.
#include <cstdint>
#include <variant>

#include "gateway/coap/message.hpp"
#include "upstream/message.hpp"

namespace gw::translate {

struct rpc_plan {
  std::uint16_t answer_format;  // 60 (CBOR) or 50 (JSON, passed through unchanged)
  upstream::request http;
};

// 4.00 for a body that is not a JSON document in its format, 4.15 for an unknown format,
// 4.06 for an Accept other than 50 or 60.
std::variant<rpc_plan, coap::message> plan_rpc(const coap::message& request);

// 2.05 with the answer; a whole-request error keeps its error object in the payload and maps
// its code: 401 -> 4.01, 400 and -1 -> 4.00, 500 and 501 (and anything else) -> 5.02.
coap::message render_rpc(const coap::message& request, const rpc_plan& plan,
                         const upstream::response& r);

}  // namespace gw::translate
