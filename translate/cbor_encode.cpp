// JSON -> CBOR. libcbor writes every head (its cbor_encode_* already pick the shortest argument,
// RFC 8949 §4.1) and the single and double floats. The "does it fit in a half" test and the
// half bits are ours: libcbor 0.8's cbor_encode_half takes a float and turns half subnormals
// with more than one significand bit into a different number.
#include "translate/cbor_json.hpp"

#include <cfloat>
#include <cmath>
#include <optional>

#include <cbor.h>

namespace gw::translate {
namespace {

using byte_vector = std::vector<std::uint8_t>;

// The longest head (initial byte + 8-byte argument) and the longest float both take 9 bytes.
constexpr std::size_t max_head_size = 9;

template <class Encode>
void put(byte_vector& out, Encode encode) {
  unsigned char head[max_head_size];
  const std::size_t size = encode(head, sizeof head);
  out.insert(out.end(), head, head + size);
}

void put_bytes(byte_vector& out, const void* data, std::size_t size) {
  const auto* first = static_cast<const std::uint8_t*>(data);
  out.insert(out.end(), first, first + size);
}

// IEEE 754 binary16 bits of a finite `value` if a half holds it exactly (RFC 8949 §3.3 and
// Appendix D), else nullopt. Halves are ±m * 2^(e-25) with an 11-bit m for e in 1..30, and
// ±m * 2^-24 with a 10-bit m for the subnormals.
std::optional<std::uint16_t> exact_half(double value) {
  const std::uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  const double magnitude = std::fabs(value);
  if (magnitude == 0) return sign;
  if (magnitude > 65504.0) return std::nullopt;
  if (magnitude < 0x1p-14) {
    // Scaling by a power of two is exact here; below 2^-24 the result is not an integer.
    const double significand = std::ldexp(magnitude, 24);
    if (significand != std::floor(significand)) return std::nullopt;
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(significand));
  }
  const int exponent = std::ilogb(magnitude);                       // -14..15
  const double significand = std::ldexp(magnitude, 10 - exponent);  // in [1024, 2048)
  if (significand != std::floor(significand)) return std::nullopt;
  const auto biased = static_cast<unsigned>(exponent + 15);
  const auto fraction = static_cast<unsigned>(significand) - 1024u;
  return static_cast<std::uint16_t>(sign | biased << 10 | fraction);
}

bool fits_single(double value) {
  // Converting a double outside float's range is undefined behaviour, hence the range test.
  if (std::fabs(value) > static_cast<double>(FLT_MAX)) return false;
  return static_cast<double>(static_cast<float>(value)) == value;
}

// RFC 8949 §4.1: the shortest of the three float widths that preserves the value.
void put_float(byte_vector& out, double value) {
  if (!std::isfinite(value)) {
    // JSON has no NaN or Infinity; nlohmann's dump() writes null for them, and so do we, so
    // that this stays a function of the JSON text.
    put(out, [](unsigned char* b, std::size_t n) { return cbor_encode_null(b, n); });
    return;
  }
  if (const auto half = exact_half(value)) {
    const std::uint8_t bytes[3] = {0xf9, static_cast<std::uint8_t>(*half >> 8),
                                   static_cast<std::uint8_t>(*half & 0xff)};
    put_bytes(out, bytes, sizeof bytes);
  } else if (fits_single(value)) {
    const auto single = static_cast<float>(value);
    put(out,
        [single](unsigned char* b, std::size_t n) { return cbor_encode_single(single, b, n); });
  } else {
    put(out, [value](unsigned char* b, std::size_t n) { return cbor_encode_double(value, b, n); });
  }
}

void put_integer(byte_vector& out, std::int64_t value) {
  if (value >= 0) {
    const auto argument = static_cast<std::uint64_t>(value);
    put(out,
        [argument](unsigned char* b, std::size_t n) { return cbor_encode_uint(argument, b, n); });
    return;
  }
  // Major type 1 carries -1 - value; -(value + 1) cannot overflow, even for INT64_MIN.
  const auto argument = static_cast<std::uint64_t>(-(value + 1));
  put(out,
      [argument](unsigned char* b, std::size_t n) { return cbor_encode_negint(argument, b, n); });
}

void put_text(byte_vector& out, const std::string& text) {
  const std::size_t size = text.size();
  put(out,
      [size](unsigned char* b, std::size_t n) { return cbor_encode_string_start(size, b, n); });
  put_bytes(out, text.data(), size);
}

void put_scalar(byte_vector& out, const json& value) {
  switch (value.type()) {
    case json::value_t::number_integer:
      put_integer(out, value.get<std::int64_t>());
      break;
    case json::value_t::number_unsigned: {
      const auto argument = value.get<std::uint64_t>();
      put(out,
          [argument](unsigned char* b, std::size_t n) { return cbor_encode_uint(argument, b, n); });
      break;
    }
    case json::value_t::number_float:
      put_float(out, value.get<double>());
      break;
    case json::value_t::string:
      put_text(out, value.get_ref<const json::string_t&>());
      break;
    case json::value_t::boolean: {
      const bool flag = value.get<bool>();
      put(out, [flag](unsigned char* b, std::size_t n) { return cbor_encode_bool(flag, b, n); });
      break;
    }
    case json::value_t::binary: {
      const auto& binary = value.get_binary();
      const std::size_t size = binary.size();
      put(out, [size](unsigned char* b, std::size_t n) {
        return cbor_encode_bytestring_start(size, b, n);
      });
      put_bytes(out, binary.data(), size);
      break;
    }
    default:  // null, and `discarded`, which only a parser callback can produce
      put(out, [](unsigned char* b, std::size_t n) { return cbor_encode_null(b, n); });
      break;
  }
}

}  // namespace

std::vector<std::uint8_t> json_to_cbor(const json& value) {
  byte_vector out;
  // An explicit stack instead of recursion: a document handed to us may nest arbitrarily deep.
  struct frame {
    const json* container;
    json::const_iterator next;
  };
  std::vector<frame> stack;
  const auto put_item = [&](const json& item) {
    const std::size_t size = item.size();
    if (item.is_array()) {
      put(out,
          [size](unsigned char* b, std::size_t n) { return cbor_encode_array_start(size, b, n); });
    } else if (item.is_object()) {
      put(out,
          [size](unsigned char* b, std::size_t n) { return cbor_encode_map_start(size, b, n); });
    } else {
      put_scalar(out, item);
      return;
    }
    stack.push_back({&item, item.cbegin()});
  };

  put_item(value);
  while (!stack.empty()) {
    frame& top = stack.back();
    if (top.next == top.container->cend()) {
      stack.pop_back();
      continue;
    }
    const auto current = top.next++;
    if (top.container->is_object()) put_text(out, current.key());
    put_item(*current);  // may grow `stack`; `top` is not used afterwards
  }
  return out;
}

}  // namespace gw::translate
