#pragma once
// Plans and renders of the dataport procedures: Write, Read, Multiple Read and Write, and the
// RPC `lookup` that tells a missing alias from an empty one (upstream-http-api.md, decision).
// Pure functions; runner/ sequences them.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "gateway/coap/message.hpp"
#include "upstream/message.hpp"

namespace gw::translate {

// --- Write -------------------------------------------------------------------------------
// The value a Write carries: UTF-8 text (no Content-Format or 0), or a CBOR text, number or
// boolean (60) rendered as text, or a JSON string or number (50). Otherwise the error answer
// (4.00 or 4.15).
std::variant<std::string, coap::message> write_value(const coap::message& request);
upstream::request plan_write(const std::string& cik, const std::string& alias,
                             const std::string& value);

// --- Read --------------------------------------------------------------------------------
upstream::request plan_read(const std::string& cik, std::span<const std::string> aliases);
// The latest point of one alias with its time: a long-poll from the epoch, which upstream answers
// at once with the value and its Last-Modified (or, for an empty dataport, 304 after a
// millisecond). A plain read carries no time.
upstream::request plan_latest_point(const std::string& cik, const std::string& alias);
// A long-poll of one alias for points newer than `since` (Unix seconds), waiting up to `wait`.
upstream::request plan_long_poll(const std::string& cik, const std::string& alias,
                                 std::int64_t since, std::chrono::milliseconds wait);
// The decoded `alias=value` pairs of a 200 read answer (nullopt for a malformed body).
std::optional<std::vector<std::pair<std::string, std::string>>> parse_read_body(
    const upstream::response& r);
// A Read's answer: 2.05 text with Max-Age `max_age_s`. RFC 7252 §5.10.5's default of 60 s when
// Max-Age is absent would let clients and proxies reuse a dataport value that may change at any
// moment, so the gateway always says how long (0 by default: coap.read_max_age). An Observe
// registration answer gets observe.max_age instead, set by the endpoint over this one.
coap::message render_value(const coap::message& request, std::string_view value,
                           std::uint32_t max_age_s);

// --- lookup (alias check) ------------------------------------------------------------------
enum class alias_state { exists, missing, unauthorized, unknown };
upstream::request plan_lookup(const std::string& cik, const std::string& alias);
alias_state parse_lookup(const upstream::response& r);
// One JSON-RPC request with one `lookup` call per alias (ids 1..n), and its answer per alias in
// the same order: a whole-request failure gives every alias the same state.
upstream::request plan_lookups(const std::string& cik, std::span<const std::string> aliases);
std::vector<alias_state> parse_lookups(const upstream::response& r, std::size_t count);
coap::message render_alias_missing(const coap::message& request);

// --- Multiple Read and Write -----------------------------------------------------------------
struct multi_plan {
  std::vector<std::pair<std::string, std::string>> writes;
  std::vector<std::string> reads;
  upstream::request http;
};
// Writes from the CBOR map payload (also without Content-Format, as CoAPExample sends it),
// reads from the Uri-Query options after the CIK. Bad payload: the 4.00 answer.
std::variant<multi_plan, coap::message> plan_multi(const coap::message& request,
                                                   const std::string& cik);
// 2.05 with a CBOR map holding every read alias, null where it has no value.
coap::message render_multi(const coap::message& request, const multi_plan& plan,
                           const upstream::response& r);

// Every upstream request carries the CIK this way.
void add_cik(upstream::request& r, const std::string& cik);

}  // namespace gw::translate
