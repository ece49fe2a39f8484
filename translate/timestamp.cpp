#include "translate/timestamp.hpp"

#include <charconv>
#include <string>

#include "translate/content_format.hpp"

namespace gw::translate {

upstream::request plan_timestamp() {
  upstream::request r;
  r.method = "GET";
  r.target = "/timestamp";
  return r;
}

std::optional<std::int64_t> parse_timestamp(std::string_view body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' '))
    body.remove_suffix(1);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (ec != std::errc{} || end != body.data() + body.size() || body.empty()) return std::nullopt;
  return v;
}

coap::message render_timestamp(const coap::message& request, std::int64_t unix_seconds) {
  auto accept = request.accept();
  if (accept && *accept != cf::text_plain && *accept != cf::octet_stream)
    return coap::make_error(request, coap::codes::not_acceptable, "Accept 0 or 42");
  const bool binary =
      accept == cf::octet_stream || (!accept && request.content_format() == cf::octet_stream);
  auto msg = coap::make_response(request, coap::codes::content);
  if (binary) {
    // A signed 32-bit integer in network byte order, as the API document specifies.
    auto v = static_cast<std::uint32_t>(static_cast<std::int32_t>(unix_seconds));
    msg.add_uint_option(coap::opt::content_format, cf::octet_stream);
    msg.payload = {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                   static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
  } else {
    msg.add_uint_option(coap::opt::content_format, cf::text_plain);
    msg.set_payload(std::to_string(unix_seconds));
  }
  return msg;
}

}  // namespace gw::translate
