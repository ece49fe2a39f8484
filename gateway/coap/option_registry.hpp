#pragma once
// The one option registry: every option this gateway knows, with its properties
// (RFC 7252 §5.4, §5.10, §12.2; RFC 7641; RFC 7959; RFC 7967; RFC 9175).
#include <cstdint>
#include <span>
#include <string_view>

namespace gw::coap {

enum class option_format { empty, opaque, uint, string };

struct option_def {
  std::uint16_t number;
  std::string_view name;
  option_format format;
  std::uint16_t min_length;
  std::uint16_t max_length;
  bool repeatable;
  // Whether requests carrying it are served. A known option this gateway cannot honour is
  // screened like an unrecognised one (RFC 7252 §5.4.1): If-Match and If-None-Match are
  // preconditions on a version the upstream never offers (§5.10.8), so evaluating them is
  // impossible and ignoring them would apply a conditional write unconditionally.
  bool supported = true;
};

// RFC 7252 §5.4.6: the properties follow from the number's bits.
constexpr bool is_critical(std::uint16_t number) {
  return (number & 1) != 0;
}
constexpr bool is_unsafe(std::uint16_t number) {
  return (number & 2) != 0;
}
constexpr bool is_no_cache_key(std::uint16_t number) {
  return (number & 0x1e) == 0x1c;
}

// nullptr for an option this gateway does not recognise.
const option_def* find_option(std::uint16_t number);
std::span<const option_def> all_options();

}  // namespace gw::coap
