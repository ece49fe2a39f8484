#pragma once
// Wire format (RFC 7252 §3). Never throws on input; every malformed form is an error value.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <boost/system/result.hpp>

#include "gateway/coap/error.hpp"
#include "gateway/coap/message.hpp"

namespace gw::coap {

// The fixed 4-byte header, readable even when the rest of the datagram is malformed:
// the message layer needs type and MID to answer a broken CON with RST (RFC 7252 §4.2).
struct header {
  coap::type type;
  std::uint8_t token_length;
  coap::code code;
  std::uint16_t mid;
};

// nullopt when shorter than 4 bytes or the version is not 1.
std::optional<header> peek_header(std::span<const std::uint8_t> datagram);

boost::system::result<message> decode(std::span<const std::uint8_t> datagram);

// Canonical encoding: options in order, minimal deltas and lengths. Precondition (programming
// error otherwise): token at most 8 bytes and options sorted by number.
bytes encode(const message& msg);
// encode(msg).size() without encoding: what budgets and size limits ask before a send (a
// notification to every observer, every response), with no allocation. Same precondition.
std::size_t encoded_size(const message& msg);

}  // namespace gw::coap
