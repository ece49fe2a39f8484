// CBOR -> JSON. A small recursive decoder over the bytes rather than libcbor's cbor_load: every
// failure needs its byte offset for the 4.00 diagnostic, recursion must stop at max_cbor_depth,
// and no declared length may allocate before it is checked against the remaining input.
#include "translate/cbor_json.hpp"
#include "translate/utf8.hpp"

#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <unordered_set>
#include <utility>

#include <boost/throw_exception.hpp>

#include "base/keyed_hash.hpp"

namespace gw::translate {
namespace {

// RFC 8949 §3.1.
enum major_type : std::uint8_t {
  unsigned_integer = 0,
  negative_integer = 1,
  byte_string = 2,
  text_string = 3,
  array = 4,
  map = 5,
  tag = 6,
  simple_or_float = 7,
};

constexpr std::uint8_t indefinite_info = 31;
constexpr std::uint8_t break_byte = 0xff;

struct item_head {
  std::size_t offset = 0;  // of the initial byte
  std::uint8_t major = 0;
  std::uint8_t info = 0;       // additional information (low five bits)
  std::uint64_t argument = 0;  // meaningless when indefinite()
  bool indefinite() const { return info == indefinite_info; }
};

// RFC 4648 §5 alphabet, no padding, as RFC 8949 §6.1 asks for byte strings.
std::string base64url(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group = std::uint32_t{std::uint8_t(bytes[i])} << 16 |
                                std::uint32_t{std::uint8_t(bytes[i + 1])} << 8 |
                                std::uint8_t(bytes[i + 2]);
    out += alphabet[group >> 18 & 0x3f];
    out += alphabet[group >> 12 & 0x3f];
    out += alphabet[group >> 6 & 0x3f];
    out += alphabet[group & 0x3f];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t group = std::uint32_t{std::uint8_t(bytes[i])} << 16;
    if (rest == 2) group |= std::uint32_t{std::uint8_t(bytes[i + 1])} << 8;
    out += alphabet[group >> 18 & 0x3f];
    out += alphabet[group >> 12 & 0x3f];
    if (rest == 2) out += alphabet[group >> 6 & 0x3f];
  }
  return out;
}

// RFC 8949 Appendix D; libcbor keeps its own half decoder in its internal headers.
double half_to_double(std::uint16_t bits) {
  const int exponent = bits >> 10 & 0x1f;
  const int fraction = bits & 0x3ff;
  double magnitude = 0;
  if (exponent == 0) {
    magnitude = std::ldexp(fraction, -24);
  } else if (exponent == 31) {
    magnitude = fraction == 0 ? std::numeric_limits<double>::infinity()
                              : std::numeric_limits<double>::quiet_NaN();
  } else {
    magnitude = std::ldexp(fraction + 1024, exponent - 25);
  }
  return bits & 0x8000 ? -magnitude : magnitude;
}

class decoder {
 public:
  explicit decoder(std::span<const std::uint8_t> input) : input_(input) {}

  cbor_result decode_document() {
    if (input_.empty()) return cbor_error{0, "empty input"};
    json document;
    if (!decode_item(document, 0)) return std::move(error_);
    if (position_ != input_.size()) return cbor_error{position_, "trailing bytes after the item"};
    // Spelled out: json converts implicitly to nearly anything, which hides result's converting
    // constructors.
    return cbor_result(boost::system::in_place_value, std::move(document));
  }

 private:
  bool fail(std::size_t offset, std::string message) {
    error_ = cbor_error{offset, std::move(message)};
    return false;
  }

  std::size_t remaining() const { return input_.size() - position_; }

  // RFC 8949 §3: initial byte and argument. Indefinite lengths are left for the caller to
  // accept or refuse, since that depends on the major type.
  bool read_head(item_head& head) {
    head.offset = position_;
    if (remaining() == 0) return fail(position_, "unexpected end of input");
    const std::uint8_t initial = input_[position_];
    head.major = initial >> 5;
    head.info = initial & 0x1f;
    head.argument = head.info;
    std::size_t argument_size = 0;
    if (head.info >= 24 && head.info <= 27) {
      argument_size = std::size_t{1} << (head.info - 24);
    } else if (head.info >= 28 && head.info <= 30) {
      return fail(position_, "reserved additional information");  // §3: not well-formed
    }
    if (argument_size >= remaining()) return fail(position_, "unexpected end of input");
    if (argument_size > 0) {
      head.argument = 0;
      for (std::size_t i = 1; i <= argument_size; ++i) {
        head.argument = head.argument << 8 | input_[position_ + i];
      }
    }
    position_ += 1 + argument_size;
    return true;
  }

  // Consumes the "break" stop code of an indefinite-length item if it comes next. At the end of
  // the input it returns false, and the next read_head reports the truncation.
  bool take_break() {
    if (remaining() == 0 || input_[position_] != break_byte) return false;
    ++position_;
    return true;
  }

  // `depth` counts the arrays and maps around this item.
  bool decode_item(json& out, std::size_t depth) {
    item_head head;
    if (!read_head(head)) return false;
    // Tags are dropped (RFC 8949 §6.1), iteratively so that a chain of them cannot recurse.
    // Only tag 3 right around a byte string survives, as the "~" marking a negative bignum.
    bool negative_bignum = false;
    while (head.major == tag) {
      if (head.indefinite()) return fail(head.offset, "indefinite length on a tag");
      negative_bignum = head.argument == 3;
      if (!read_head(head)) return false;
    }
    switch (head.major) {
      case unsigned_integer:
        if (head.indefinite()) return fail(head.offset, "indefinite length on an integer");
        out = head.argument;
        return true;
      case negative_integer:
        if (head.indefinite()) return fail(head.offset, "indefinite length on an integer");
        if (head.argument > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          return fail(head.offset, "integer out of range");
        }
        out = -static_cast<std::int64_t>(head.argument) - 1;
        return true;
      case byte_string: {
        std::string bytes;
        if (!decode_string(head, bytes)) return false;
        out = (negative_bignum ? "~" : "") + base64url(bytes);
        return true;
      }
      case text_string: {
        std::string text;
        if (!decode_string(head, text)) return false;
        out = std::move(text);
        return true;
      }
      case array:
        return decode_array(head, out, depth);
      case map:
        return decode_map(head, out, depth);
      default:
        return decode_simple(head, out);
    }
  }

  // A byte or text string, definite or indefinite (RFC 8949 §3.2.3: the chunks of an
  // indefinite string are definite strings of the same major type).
  bool decode_string(const item_head& head, std::string& out) {
    if (!head.indefinite()) return append_chunk(head, out);
    for (;;) {
      if (take_break()) return true;
      item_head chunk;
      if (!read_head(chunk)) return false;
      if (chunk.major != head.major || chunk.indefinite()) {
        return fail(chunk.offset, "invalid chunk in indefinite-length string");
      }
      if (!append_chunk(chunk, out)) return false;
    }
  }

  bool append_chunk(const item_head& head, std::string& out) {
    const bool text = head.major == text_string;
    if (head.argument > remaining()) {
      return fail(head.offset, text ? "truncated text string" : "truncated byte string");
    }
    const auto bytes = input_.subspan(position_, static_cast<std::size_t>(head.argument));
    // Each chunk on its own: a chunk may not split a UTF-8 sequence (RFC 8949 §3.2.3).
    if (text && !is_valid_utf8(bytes)) return fail(head.offset, "invalid UTF-8 in text string");
    out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    position_ += bytes.size();
    return true;
  }

  bool check_depth(const item_head& head, std::size_t depth) {
    if (depth < max_cbor_depth) return true;
    return fail(head.offset, "nesting deeper than " + std::to_string(max_cbor_depth));
  }

  // Elements are appended one by one and never reserved from the declared count: every element
  // takes at least one byte, so a huge count on a short input ends in a truncation error.
  bool decode_array(const item_head& head, json& out, std::size_t depth) {
    if (!check_depth(head, depth)) return false;
    out = json::array();
    for (std::uint64_t i = 0; head.indefinite() || i < head.argument; ++i) {
      if (head.indefinite() && take_break()) break;
      json element;
      if (!decode_item(element, depth + 1)) return false;
      out.push_back(std::move(element));
    }
    return true;
  }

  bool decode_map(const item_head& head, json& out, std::size_t depth) {
    if (!check_depth(head, depth)) return false;
    out = json::object();
    // Appended to the underlying vector: ordered_map's own emplace searches linearly for the key,
    // which makes a large map quadratic; duplicates are caught by the hash set instead.
    auto& members = *out.get_ptr<json::object_t*>();
    // Keyed hash: the keys are the client's, and must not be able to collide on purpose.
    std::unordered_set<std::string, base::string_hash, std::equal_to<>> keys;
    for (std::uint64_t i = 0; head.indefinite() || i < head.argument; ++i) {
      if (head.indefinite() && take_break()) break;
      const std::size_t key_offset = position_;
      std::string key;
      if (!decode_key(key)) return false;
      if (!keys.insert(key).second) return fail(key_offset, "duplicate map key");
      json value;
      if (!decode_item(value, depth + 1)) return false;
      members.emplace_back(std::move(key), std::move(value));
    }
    return true;
  }

  // JSON member names are strings; tags around a key are dropped like anywhere else.
  bool decode_key(std::string& out) {
    const std::size_t offset = position_;
    item_head head;
    if (!read_head(head)) return false;
    while (head.major == tag && !head.indefinite()) {
      if (!read_head(head)) return false;
    }
    if (head.major != text_string) return fail(offset, "map key is not a text string");
    return decode_string(head, out);
  }

  // RFC 8949 §3.3.
  bool decode_simple(const item_head& head, json& out) {
    switch (head.info) {
      case 20:
        out = false;
        return true;
      case 21:
        out = true;
        return true;
      case 22:
      case 23:  // undefined: RFC 8949 §6.1 maps it to null
        out = nullptr;
        return true;
      case 24:
        // §3.3: a two-byte form of a value below 32 is not well-formed.
        if (head.argument < 32) return fail(head.offset, "invalid simple value encoding");
        return fail(head.offset, "unsupported simple value");
      case 25:
        return put_float(head, half_to_double(static_cast<std::uint16_t>(head.argument)), out);
      case 26:
        return put_float(head, std::bit_cast<float>(static_cast<std::uint32_t>(head.argument)),
                         out);
      case 27:
        return put_float(head, std::bit_cast<double>(head.argument), out);
      case indefinite_info:
        return fail(head.offset, "unexpected break");
      default:
        return fail(head.offset, "unsupported simple value");
    }
  }

  bool put_float(const item_head& head, double value, json& out) {
    if (std::isnan(value)) return fail(head.offset, "NaN is not valid in JSON");
    if (std::isinf(value)) return fail(head.offset, "Infinity is not valid in JSON");
    out = value;
    return true;
  }

  std::span<const std::uint8_t> input_;
  std::size_t position_ = 0;
  cbor_error error_;
};

}  // namespace

std::string cbor_error::to_string() const {
  return "offset " + std::to_string(offset) + ": " + message;
}

void throw_exception_from_error(const cbor_error& e, const boost::source_location& loc) {
  boost::throw_with_location(std::invalid_argument(e.to_string()), loc);
}

cbor_result cbor_to_json(std::span<const std::uint8_t> bytes) {
  return decoder(bytes).decode_document();
}

}  // namespace gw::translate
