#include "gateway/coap/message.hpp"

#include <algorithm>
#include <bit>
#include <limits>

namespace gw::coap {

void message::add_option(std::uint16_t number, bytes value) {
  // upper_bound keeps repeated options in insertion order (RFC 7252 §5.4.5).
  const auto pos = std::upper_bound(options.begin(), options.end(), number,
                                    [](std::uint16_t n, const option& o) { return n < o.number; });
  options.insert(pos, option{number, std::move(value)});
}

void message::add_option(std::uint16_t number, std::string_view text) {
  add_option(number, bytes(as_bytes(text), as_bytes(text) + text.size()));
}

void message::add_uint_option(std::uint16_t number, std::uint64_t value) {
  add_option(number, encode_uint(value));
}

void message::remove_options(std::uint16_t number) {
  std::erase_if(options, [number](const option& o) { return o.number == number; });
}

void message::set_option(std::uint16_t number, bytes value) {
  remove_options(number);
  add_option(number, std::move(value));
}

void message::set_uint_option(std::uint16_t number, std::uint64_t value) {
  set_option(number, encode_uint(value));
}

const option* message::find(std::uint16_t number) const {
  const auto it = std::find_if(options.begin(), options.end(),
                               [number](const option& o) { return o.number == number; });
  return it == options.end() ? nullptr : &*it;
}

std::vector<const option*> message::find_all(std::uint16_t number) const {
  std::vector<const option*> out;
  for (const option& o : options) {
    if (o.number == number) out.push_back(&o);
  }
  return out;
}

std::optional<std::uint64_t> message::uint_option(std::uint16_t number) const {
  const option* o = find(number);
  if (o == nullptr) return std::nullopt;
  return decode_uint(o->value);
}

namespace {

std::vector<std::string> option_strings(const message& msg, std::uint16_t number) {
  std::vector<std::string> out;
  for (const option& o : msg.options) {
    if (o.number == number)
      out.emplace_back(reinterpret_cast<const char*>(o.value.data()), o.value.size());
  }
  return out;
}

std::optional<std::uint16_t> uint16_option(const message& msg, std::uint16_t number) {
  const auto v = msg.uint_option(number);
  if (!v || *v > std::numeric_limits<std::uint16_t>::max()) return std::nullopt;
  return static_cast<std::uint16_t>(*v);
}

}  // namespace

std::vector<std::string> message::path() const {
  return option_strings(*this, opt::uri_path);
}

std::vector<std::string> message::queries() const {
  return option_strings(*this, opt::uri_query);
}

std::string message::path_string() const {
  std::string out;
  for (const option& o : options) {
    if (o.number != opt::uri_path) continue;
    out += '/';
    out.append(o.value.begin(), o.value.end());
  }
  if (out.empty()) out = "/";
  return out;
}

std::optional<std::uint16_t> message::content_format() const {
  return uint16_option(*this, opt::content_format);
}

std::optional<std::uint16_t> message::accept() const {
  return uint16_option(*this, opt::accept);
}

bytes encode_uint(std::uint64_t value) {
  const auto size = static_cast<std::size_t>(std::bit_width(value) + 7) / 8;
  bytes out(size);  // one allocation at the right size (none for 0)
  for (std::size_t i = size; i-- > 0; value >>= 8) out[i] = static_cast<std::uint8_t>(value);
  return out;
}

bytes etag_from_hash(std::uint64_t hash) {
  const auto folded = static_cast<std::uint32_t>(hash ^ (hash >> 32));
  return {static_cast<std::uint8_t>(folded >> 24), static_cast<std::uint8_t>(folded >> 16),
          static_cast<std::uint8_t>(folded >> 8), static_cast<std::uint8_t>(folded)};
}

std::optional<std::uint64_t> decode_uint(std::span<const std::uint8_t> value) {
  if (value.size() > 8) return std::nullopt;
  std::uint64_t out = 0;
  for (const std::uint8_t b : value) out = (out << 8) | b;
  return out;
}

message make_response(const message& request, coap::code code) {
  message response;
  response.code = code;
  response.token = request.token;
  response.options.reserve(4);  // Content-Format, ETag, Max-Age, Block2: one allocation
  return response;
}

message make_error(const message& request, coap::code code, std::string_view diagnostic) {
  message response = make_response(request, code);
  response.set_payload(diagnostic);
  return response;
}

message make_unavailable(const message& request, std::uint32_t max_age_s, std::string_view why) {
  message response = make_error(request, codes::service_unavailable, why);
  response.add_uint_option(opt::max_age, max_age_s);
  return response;
}

}  // namespace gw::coap
