#pragma once
// Timestamp: decimal text by default; a 4-byte big-endian signed integer (Content-Format 42)
// when the request asks with Accept 42, or with Content-Format 42 as the API document phrases it.
#include <cstdint>
#include <optional>
#include <string_view>

#include "gateway/coap/message.hpp"
#include "upstream/message.hpp"

namespace gw::translate {

upstream::request plan_timestamp();
std::optional<std::int64_t> parse_timestamp(std::string_view body);
// Content-Format 0 text, or 42 binary; 4.06 when Accept names anything else.
coap::message render_timestamp(const coap::message& request, std::int64_t unix_seconds);

}  // namespace gw::translate
