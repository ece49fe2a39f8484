#pragma once
// Which requests name an observable resource, and which one (RFC 7641 §1.2: a resource is what
// the server says it is). The core endpoint calls this through core::observable_fn; the key it
// returns is the same value the long-poll bridge keys its polls by.
#include <optional>

#include "gateway/coap/message.hpp"
#include "gateway/core/resource_key.hpp"

namespace gw::translate {

// A GET whose route is marked observable (only Read, GET /1a/<alias>) with a CIK in the first
// Uri-Query (text in any case or 20 binary bytes; the key holds lower-case hex) names
// (CIK, alias). Anything else is nullopt: the endpoint then answers it without Observe
// (RFC 7641 §4.1 lets a server decline). Query items after the CIK do not change the key.
std::optional<core::resource_key> observable_resource(const coap::message& request);

}  // namespace gw::translate
