#pragma once
// CBOR <-> JSON for the RPC proxy and Multiple Read/Write (RFC 8949 §6). The only user of libcbor.
// Both directions are pure functions; the decoder never throws on its input.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <nlohmann/json.hpp>

namespace gw::translate {

// Object key order survives both directions, so a round trip gives back the same document;
// plain nlohmann::json would sort keys.
using json = nlohmann::ordered_json;

// Arrays and maps nested deeper than this are refused: it bounds the decoder's recursion.
inline constexpr std::size_t max_cbor_depth = 64;

// Why a CBOR payload was refused. The caller answers 4.00 Bad Request with to_string() as the
// diagnostic payload (RFC 7252 §5.5.2); neither field ever echoes payload bytes.
struct cbor_error {
  std::size_t offset = 0;         // of the head of the offending item, or where the input ran out
  std::string message;            // short, lower case: "duplicate map key"
  std::string to_string() const;  // "offset 7: duplicate map key"
};

// Lets result<json, cbor_error>::value() compile; calling it on an error is a programming error.
[[noreturn]] void throw_exception_from_error(const cbor_error& e,
                                             const boost::source_location& loc);

using cbor_result = boost::system::result<json, cbor_error>;

// Preferred serialization (RFC 8949 §4.1) with definite lengths only:
// - integers as major type 0/1 with the shortest head, over the full int64 and uint64 ranges;
// - other numbers as the shortest of half, single and double that holds the value exactly
//   (RFC 8949 §4.1), so 1.0 is f93c00 and stays a float; -0.0 keeps its sign;
// - NaN and infinities, which JSON text cannot hold, become null as nlohmann's dump() does;
// - strings as text strings (their bytes are expected to be UTF-8, as parsed JSON always is),
//   objects as maps in their key order, nlohmann binary values as byte strings.
std::vector<std::uint8_t> json_to_cbor(const json& value);

// Exactly one well-formed data item, converted by RFC 8949 §6.1 with these choices:
// - integers keep their exact value; below INT64_MIN is "integer out of range";
// - byte strings become base64url text without padding (RFC 4648 §5); a byte string directly
//   under tag 3 (negative bignum) gets the "~" prefix of RFC 8949 §6.1, because dropping that
//   tag would flip the sign; every other tag is dropped and its content converted;
// - floats stay JSON floats even when integral; NaN and infinities are errors;
// - undefined becomes null; other simple values are errors;
// - indefinite lengths are accepted (RFC 8949 §3.2); text must be valid UTF-8 (§3.1);
// - errors: empty input, truncation, trailing bytes, map keys that are not text strings,
//   duplicate keys, nesting beyond max_cbor_depth, malformed heads (§3, §3.2.3).
// Declared lengths are checked against the remaining input before anything is allocated.
cbor_result cbor_to_json(std::span<const std::uint8_t> bytes);

}  // namespace gw::translate
