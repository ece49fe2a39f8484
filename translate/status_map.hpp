#pragma once
// The one HTTP -> CoAP code table (DESIGN.md), per-procedure exceptions included as rows,
// and the one mapping of upstream failures to gateway-originated codes.
#include <optional>
#include <string>
#include <string_view>

#include <boost/system/error_code.hpp>

#include "gateway/coap/message.hpp"
#include "translate/route_table.hpp"
#include "upstream/message.hpp"

namespace gw::translate {

coap::code map_status(procedure p, unsigned http_status);

// Seconds from a Retry-After header (delta-seconds or HTTP-date relative to `now_unix`),
// clamped to what Max-Age holds; nullopt when absent or unreadable.
std::optional<std::uint32_t> retry_after_seconds(const upstream::response& r,
                                                 std::int64_t now_unix);

// The CoAP answer for an upstream status that no procedure renders itself: the mapped code
// with a short diagnostic, and Max-Age from Retry-After on 5.03 and 4.29.
coap::message error_response(const coap::message& request, procedure p, const upstream::response& r,
                             std::int64_t now_unix);

// Gateway-originated answers for a failed upstream call: 5.04 for a timeout, 5.03 with Max-Age
// when the pool's queue is full or the gateway stops, 5.02 for everything else.
// `busy_max_age_s`: Max-Age of the 5.03 for a full queue or a shutdown, the same as the core's
// own refusals (endpoint_config::overload_max_age_s); this layer has no Retry-After to go by.
coap::message failure_response(const coap::message& request, boost::system::error_code ec,
                               std::uint32_t busy_max_age_s);

}  // namespace gw::translate
