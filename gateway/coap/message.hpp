#pragma once
// A decoded CoAP message (RFC 7252 §3) as a plain value.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/coap/code.hpp"
#include "gateway/coap/option_number.hpp"

namespace gw::coap {

using bytes = std::vector<std::uint8_t>;

enum class type : std::uint8_t { con = 0, non = 1, ack = 2, rst = 3 };

struct option {
  std::uint16_t number = 0;
  bytes value;
  friend bool operator==(const option&, const option&) = default;
};

// Options are kept sorted by number; options with the same number keep their order
// (RFC 7252 §5.4.5: the order of repeated options is significant).
struct message {
  coap::type type = type::con;
  coap::code code;
  std::uint16_t mid = 0;
  bytes token;  // 0..8 bytes
  std::vector<option> options;
  bytes payload;

  friend bool operator==(const message&, const message&) = default;

  // Inserts after any existing options with the same number.
  void add_option(std::uint16_t number, bytes value);
  void add_option(std::uint16_t number, std::string_view text);
  // Adds a uint option in minimal length (RFC 7252 §3.2: 0 is zero bytes).
  void add_uint_option(std::uint16_t number, std::uint64_t value);
  void remove_options(std::uint16_t number);
  // Replaces every option with this number by one with the given value.
  void set_option(std::uint16_t number, bytes value);
  void set_uint_option(std::uint16_t number, std::uint64_t value);

  const option* find(std::uint16_t number) const;
  std::vector<const option*> find_all(std::uint16_t number) const;
  bool has(std::uint16_t number) const { return find(number) != nullptr; }
  // Value of the first option with this number read as a uint; accepts non-minimal lengths.
  // nullopt when absent or longer than 8 bytes.
  std::optional<std::uint64_t> uint_option(std::uint16_t number) const;

  // Uri-Path segments and Uri-Query items as strings (their bytes, unchanged).
  std::vector<std::string> path() const;
  std::vector<std::string> queries() const;
  // "/1a/temp" (segments joined with '/'; "/" when there are none).
  std::string path_string() const;
  std::optional<std::uint16_t> content_format() const;
  std::optional<std::uint16_t> accept() const;
  std::string_view payload_text() const {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }
  void set_payload(std::string_view text) {
    payload.assign(as_bytes(text), as_bytes(text) + text.size());
  }
  // A text's bytes as option and payload bytes are kept. Copying through this pointer is a
  // memmove; from char iterators into bytes it is a loop a byte at a time.
  static const std::uint8_t* as_bytes(std::string_view text) {
    return reinterpret_cast<const std::uint8_t*>(text.data());
  }
};

// Big-endian minimal-length encoding of a uint option value.
bytes encode_uint(std::uint64_t value);
// A 4-byte ETag (RFC 7252 §5.10.6) from a 64-bit hash of the representation, both halves folded
// in: short on the wire, and still a one-in-four-billion chance that two versions share one.
bytes etag_from_hash(std::uint64_t hash);
// Reads a big-endian uint of 0..8 bytes; nullopt when longer.
std::optional<std::uint64_t> decode_uint(std::span<const std::uint8_t> value);

// A response skeleton for a request: same token; the message layer fills type and MID.
message make_response(const message& request, coap::code code);
// A response with a short UTF-8 diagnostic payload (RFC 7252 §5.5.2).
message make_error(const message& request, coap::code code, std::string_view diagnostic);
// 5.03 Service Unavailable with Max-Age (RFC 7252 §5.9.3.4: Max-Age says after how many seconds
// the client may retry) and a diagnostic saying why. Every 5.03 the gateway makes itself, and
// every upstream 503 that said when to retry, is built here.
message make_unavailable(const message& request, std::uint32_t max_age_s, std::string_view why);

}  // namespace gw::coap
