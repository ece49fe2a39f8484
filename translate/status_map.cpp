#include "translate/status_map.hpp"

#include <array>
#include <charconv>
#include <limits>

#include "http/http_date.hpp"
#include "upstream/error.hpp"

namespace gw::translate {
namespace {

using namespace coap::codes;

struct row {
  unsigned status;
  coap::code code;
  std::optional<procedure> only;     // a per-procedure exception; first match wins
  std::optional<coap::code> method;  // only for procedures routed on this method
};

// RFC 7252 §10.1 and RFC 8075 §7, as DESIGN.md sets them. The "no device or no content" answers
// of /provision/download (CoAP API document) come first.
const std::array<row, 31> table = {{
    {204, not_found, procedure::list_content, {}},
    {400, not_found, procedure::list_content, {}},
    {403, not_found, procedure::list_content, {}},
    {204, not_found, procedure::content_info, {}},
    {400, not_found, procedure::content_info, {}},
    {403, not_found, procedure::content_info, {}},
    {204, not_found, procedure::download, {}},
    {400, not_found, procedure::download, {}},
    {403, not_found, procedure::download, {}},
    {416, bad_option, procedure::download, {}},  // a block past the end (RFC 7959 §2.2)
    {200, content, {}, {}},
    {201, created, {}, post},  // RFC 7252 §5.9.1.1: POST only; elsewhere a 2xx is 2.05
    {206, content, {}, {}},
    {204, changed, {}, {}},
    {400, bad_request, {}, {}},
    {401, unauthorized, {}, {}},
    {403, forbidden, {}, {}},
    {404, not_found, {}, {}},
    {405, method_not_allowed, {}, {}},
    {406, not_acceptable, {}, {}},
    {409, conflict, {}, {}},
    {412, precondition_failed, {}, {}},
    {413, request_entity_too_large, {}, {}},
    {415, unsupported_content_format, {}, {}},
    {422, unprocessable_entity, {}, {}},  // RFC 8132 §2.2
    {429, too_many_requests, {}, {}},
    {500, internal_server_error, {}, {}},
    {501, not_implemented, {}, {}},
    {502, bad_gateway, {}, {}},
    {503, service_unavailable, {}, {}},
    {504, gateway_timeout, {}, {}},
}};

std::string reason(unsigned status) {
  return "upstream answered " + std::to_string(status);
}

}  // namespace

coap::code map_status(procedure p, unsigned http_status) {
  for (const auto& r : table) {
    if (r.status == http_status && (!r.only || *r.only == p) &&
        (!r.method || *r.method == method_of(p)))
      return r.code;
  }
  if (http_status >= 200 && http_status < 300) return content;
  if (http_status >= 400 && http_status < 500) return bad_request;
  // 1xx and 3xx included: the gateway follows no redirect and sends no conditional request
  // (the long-poll's 304 never gets here), so the upstream's answer is not usable (RFC 7252
  // §5.9.3.3).
  return bad_gateway;
}

std::optional<std::uint32_t> retry_after_seconds(const upstream::response& r,
                                                 std::int64_t now_unix) {
  auto value = r.find_header("Retry-After");
  if (!value) return std::nullopt;
  std::int64_t seconds = 0;
  auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), seconds);
  if (ec != std::errc{} || end != value->data() + value->size()) {
    auto when = http::parse_http_date(*value);
    if (!when) return std::nullopt;
    seconds = *when - now_unix;
  }
  if (seconds < 0) seconds = 0;
  return static_cast<std::uint32_t>(
      std::min<std::int64_t>(seconds, std::numeric_limits<std::uint32_t>::max()));
}

coap::message error_response(const coap::message& request, procedure p, const upstream::response& r,
                             std::int64_t now_unix) {
  const auto code = map_status(p, r.status);
  // A success the procedure does not render itself (201 to a POST) carries no diagnostic.
  if (code.is_success()) return coap::make_response(request, code);
  if (code != service_unavailable && code != too_many_requests)
    return coap::make_error(request, code, reason(r.status));
  // RFC 7252 §5.9.3.4, RFC 8516 §3: Max-Age carries the upstream's Retry-After. Without one
  // the answer has no Max-Age rather than an invented one.
  const auto retry = retry_after_seconds(r, now_unix);
  if (code == service_unavailable && retry)
    return coap::make_unavailable(request, *retry, reason(r.status));
  auto msg = coap::make_error(request, code, reason(r.status));
  if (retry) msg.add_uint_option(coap::opt::max_age, *retry);
  return msg;
}

coap::message failure_response(const coap::message& request, boost::system::error_code ec,
                               std::uint32_t busy_max_age_s) {
  using upstream::error;
  if (ec == error::timed_out)
    return coap::make_error(request, gateway_timeout, "upstream timed out");
  if (ec == error::queue_full || ec == error::shutting_down)
    return coap::make_unavailable(request, busy_max_age_s,
                                  ec == error::queue_full ? "upstream busy" : "shutting down");
  // A request the client itself refused to send (a CR or LF in a header, say) is our fault.
  if (ec == error::bad_request)
    return coap::make_error(request, internal_server_error, "request not sendable upstream");
  // The cause first: towards a client not yet verified the amplification bound may keep only
  // the first bytes of a diagnostic (gateway/core/amplification.hpp), and 5.02 already says
  // the upstream failed.
  return coap::make_error(request, bad_gateway, ec.message() + " (upstream unreachable)");
}

}  // namespace gw::translate
