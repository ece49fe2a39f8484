#include "gateway/coap/codec.hpp"

#include <algorithm>
#include <cassert>

namespace gw::coap {

namespace {

using boost::system::error_code;

constexpr std::uint8_t version_1 = 1;
constexpr std::uint8_t payload_marker = 0xff;
constexpr std::size_t max_token_length = 8;
constexpr std::uint32_t max_option_number = 0xffff;
// RFC 7252 §3.1: a 2-byte extension adds 269, so 65535 + 269 is the largest delta or length.
[[maybe_unused]] constexpr std::uint32_t max_extended_value = 0xffff + 269;

error_code fail(error e) {
  return make_error_code(e);
}

// RFC 7252 §3.1: nibbles 0-12 are the value; 13 adds one byte (value - 13), 14 adds two
// (value - 269). The caller has already rejected 15. nullopt when the extension is cut off.
std::optional<std::uint32_t> read_extended(std::uint8_t nibble, std::span<const std::uint8_t>& in) {
  if (nibble < 13) return nibble;
  if (nibble == 13) {
    if (in.empty()) return std::nullopt;
    const std::uint32_t v = in[0] + 13u;
    in = in.subspan(1);
    return v;
  }
  if (in.size() < 2) return std::nullopt;
  const std::uint32_t v = ((std::uint32_t{in[0]} << 8) | in[1]) + 269u;
  in = in.subspan(2);
  return v;
}

std::uint8_t nibble_for(std::uint32_t v) {
  if (v < 13) return static_cast<std::uint8_t>(v);
  return v < 269 ? 13 : 14;
}

std::size_t extension_size(std::uint32_t v) {
  if (v < 13) return 0;
  return v < 269 ? 1 : 2;
}

void write_extension(bytes& out, std::uint32_t v) {
  if (v < 13) return;
  if (v < 269) {
    out.push_back(static_cast<std::uint8_t>(v - 13));
    return;
  }
  const std::uint32_t e = v - 269;
  out.push_back(static_cast<std::uint8_t>(e >> 8));
  out.push_back(static_cast<std::uint8_t>(e));
}

}  // namespace

std::optional<header> peek_header(std::span<const std::uint8_t> datagram) {
  if (datagram.size() < 4 || (datagram[0] >> 6) != version_1) return std::nullopt;
  return header{
      .type = static_cast<coap::type>((datagram[0] >> 4) & 0x3),
      .token_length = static_cast<std::uint8_t>(datagram[0] & 0x0f),
      .code = coap::code{datagram[1]},
      .mid = static_cast<std::uint16_t>((datagram[2] << 8) | datagram[3]),
  };
}

boost::system::result<message> decode(std::span<const std::uint8_t> datagram) {
  if (datagram.size() < 4) return fail(error::truncated_header);
  // RFC 7252 §3: messages with an unknown version number MUST be silently ignored.
  if ((datagram[0] >> 6) != version_1) return fail(error::bad_version);
  const std::size_t token_length = datagram[0] & 0x0f;
  // RFC 7252 §3: lengths 9-15 are reserved and MUST be processed as a message format error.
  if (token_length > max_token_length) return fail(error::bad_token_length);

  message msg;
  msg.type = static_cast<coap::type>((datagram[0] >> 4) & 0x3);
  msg.code = coap::code{datagram[1]};
  msg.mid = static_cast<std::uint16_t>((datagram[2] << 8) | datagram[3]);

  std::span<const std::uint8_t> in = datagram.subspan(4);
  // RFC 7252 §4.1: an Empty message has TKL 0 and no bytes after the Message ID.
  if (msg.code.is_empty() && (token_length != 0 || !in.empty())) {
    return fail(error::empty_message_not_empty);
  }
  if (in.size() < token_length) return fail(error::truncated_token);
  msg.token.assign(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(token_length));
  in = in.subspan(token_length);

  // One allocation for the usual handful of options instead of a regrowth at 1, 2 and 4.
  if (!in.empty() && in[0] != payload_marker)
    msg.options.reserve(std::min<std::size_t>(in.size(), 8));
  std::uint32_t number = 0;
  while (!in.empty()) {
    const std::uint8_t head = in[0];
    in = in.subspan(1);
    if (head == payload_marker) {
      // RFC 7252 §3: a marker followed by a zero-length payload is a format error.
      if (in.empty()) return fail(error::empty_payload_after_marker);
      msg.payload.assign(in.begin(), in.end());
      break;
    }
    const std::uint8_t delta_nibble = head >> 4;
    const std::uint8_t length_nibble = head & 0x0f;
    // RFC 7252 §3.1: 15 is reserved in either nibble unless the whole byte is the marker.
    if (delta_nibble == 15 || length_nibble == 15) return fail(error::reserved_option_nibble);

    const auto delta = read_extended(delta_nibble, in);
    if (!delta) return fail(error::truncated_option);
    number += *delta;
    if (number > max_option_number) return fail(error::option_number_overflow);
    const auto length = read_extended(length_nibble, in);
    if (!length) return fail(error::truncated_option);
    if (in.size() < *length) return fail(error::truncated_option);

    msg.options.push_back(option{
        static_cast<std::uint16_t>(number),
        bytes(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(*length)),
    });
    in = in.subspan(*length);
  }
  return msg;
}

// Every delta and length has exactly one encoding (the 13/14 forms start where the shorter
// form ends), so a successful decode followed by encode reproduces the datagram byte for byte.
bytes encode(const message& msg) {
  assert(msg.token.size() <= max_token_length);
  std::size_t size = 4 + msg.token.size() + msg.payload.size() + 1;
  for (const option& o : msg.options) size += 5 + o.value.size();

  bytes out;
  out.reserve(size);
  out.push_back(static_cast<std::uint8_t>((version_1 << 6) |
                                          ((static_cast<std::uint8_t>(msg.type) & 0x3) << 4) |
                                          (msg.token.size() & 0x0f)));
  out.push_back(msg.code.value);
  out.push_back(static_cast<std::uint8_t>(msg.mid >> 8));
  out.push_back(static_cast<std::uint8_t>(msg.mid));
  out.insert(out.end(), msg.token.begin(), msg.token.end());

  std::uint16_t previous = 0;
  for (const option& o : msg.options) {
    assert(o.number >= previous);
    assert(o.value.size() <= max_extended_value);
    const std::uint32_t delta = static_cast<std::uint32_t>(o.number - previous);
    const auto length = static_cast<std::uint32_t>(o.value.size());
    out.push_back(static_cast<std::uint8_t>((nibble_for(delta) << 4) | nibble_for(length)));
    write_extension(out, delta);
    write_extension(out, length);
    out.insert(out.end(), o.value.begin(), o.value.end());
    previous = o.number;
  }

  if (!msg.payload.empty()) {
    out.push_back(payload_marker);
    out.insert(out.end(), msg.payload.begin(), msg.payload.end());
  }
  return out;
}

std::size_t encoded_size(const message& msg) {
  std::size_t size = 4 + msg.token.size();
  std::uint16_t previous = 0;
  for (const option& o : msg.options) {
    const auto delta = static_cast<std::uint32_t>(o.number - previous);
    const auto length = static_cast<std::uint32_t>(o.value.size());
    size += 1 + extension_size(delta) + extension_size(length) + o.value.size();
    previous = o.number;
  }
  if (!msg.payload.empty()) size += 1 + msg.payload.size();
  return size;
}

}  // namespace gw::coap
