#pragma once
// Single byte ranges (RFC 9110 §14): the `Range: bytes=...` request header evaluated against a
// representation's size, and the `Content-Range` response header. Parsing never throws.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "http/error.hpp"

namespace gw::http {

// Inclusive, 0-based: [first, last].
struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t size() const { return last - first + 1; }
  friend bool operator==(const byte_range&, const byte_range&) = default;
};

enum class range_kind {
  satisfiable,    // answer 206 with `range`
  unsatisfiable,  // answer 416 with `Content-Range: bytes */total` (RFC 9110 §15.5.17)
  invalid,        // not a single bytes range: ignore the header and answer 200 (RFC 9110 §14.2)
};

struct range_request {
  range_kind kind = range_kind::invalid;
  byte_range range;  // meaningful only when satisfiable
};

// `bytes=X-Y`, `bytes=X-` or `bytes=-Y` against a representation of `total` bytes (RFC 9110
// §14.1.2): Y is clamped to total-1, a suffix longer than the content selects all of it, X at or
// beyond the end (so every range of empty content) is unsatisfiable, X > Y is invalid. Several
// ranges in one header are not supported and count as invalid, which RFC 9110 §14.2 allows
// ("a server MAY ignore the Range header field").
range_request parse_range(std::string_view header, std::uint64_t total);

// `bytes=first-last`, for a client asking for one block.
std::string format_range(byte_range range);

// `bytes first-last/total` (RFC 9110 §14.4).
std::string format_content_range(byte_range range, std::uint64_t total);
// `bytes */total`, the Content-Range of a 416.
std::string format_unsatisfied_range(std::uint64_t total);

struct content_range {
  std::optional<byte_range> range;     // nullopt for `bytes */total`
  std::optional<std::uint64_t> total;  // nullopt for `bytes first-last/*`
  friend bool operator==(const content_range&, const content_range&) = default;
};

// Parses `bytes first-last/total`, `bytes first-last/*` and `bytes */total`; rejects first > last
// and last >= total (RFC 9110 §14.4: such a value is invalid).
boost::system::result<content_range> parse_content_range(std::string_view value);

}  // namespace gw::http
