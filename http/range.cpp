#include "http/range.hpp"

#include <charconv>

#include "base/ascii.hpp"

namespace gw::http {
namespace {

using base::iequals;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// 1*DIGIT that fits 64 bits; no sign, no spaces.
std::optional<std::uint64_t> parse_digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

constexpr range_request invalid_range{range_kind::invalid, {}};
constexpr range_request unsatisfiable_range{range_kind::unsatisfiable, {}};

}  // namespace

range_request parse_range(std::string_view header, std::uint64_t total) {
  header = trim(header);
  const auto eq = header.find('=');
  // RFC 9110 §14.1: range units compare case-insensitively.
  if (eq == std::string_view::npos || !iequals(trim(header.substr(0, eq)), "bytes")) {
    return invalid_range;
  }
  const auto spec = trim(header.substr(eq + 1));
  if (spec.find(',') != std::string_view::npos) return invalid_range;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return invalid_range;
  const auto first_text = spec.substr(0, dash);
  const auto last_text = spec.substr(dash + 1);

  if (first_text.empty()) {
    // suffix-range: the last Y bytes (RFC 9110 §14.1.2); -0 selects nothing.
    const auto suffix = parse_digits(last_text);
    if (!suffix) return invalid_range;
    if (*suffix == 0 || total == 0) return unsatisfiable_range;
    const auto length = *suffix < total ? *suffix : total;
    return {range_kind::satisfiable, {total - length, total - 1}};
  }

  const auto first = parse_digits(first_text);
  if (!first) return invalid_range;
  std::uint64_t last = UINT64_MAX;
  if (!last_text.empty()) {
    const auto parsed = parse_digits(last_text);
    if (!parsed || *parsed < *first) return invalid_range;
    last = *parsed;
  }
  if (*first >= total) return unsatisfiable_range;
  if (last >= total) last = total - 1;
  return {range_kind::satisfiable, {*first, last}};
}

std::string format_range(byte_range range) {
  return "bytes=" + std::to_string(range.first) + "-" + std::to_string(range.last);
}

std::string format_content_range(byte_range range, std::uint64_t total) {
  return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
         std::to_string(total);
}

std::string format_unsatisfied_range(std::uint64_t total) {
  return "bytes */" + std::to_string(total);
}

boost::system::result<content_range> parse_content_range(std::string_view value) {
  value = trim(value);
  const auto space = value.find(' ');
  if (space == std::string_view::npos || !iequals(value.substr(0, space), "bytes")) {
    return make_error_code(error::bad_content_range);
  }
  const auto rest = trim(value.substr(space + 1));
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return make_error_code(error::bad_content_range);
  const auto range_text = rest.substr(0, slash);
  const auto total_text = rest.substr(slash + 1);

  content_range out;
  if (total_text != "*") {
    out.total = parse_digits(total_text);
    if (!out.total) return make_error_code(error::bad_content_range);
  }
  if (range_text == "*") {
    // unsatisfied-range requires a complete length.
    if (!out.total) return make_error_code(error::bad_content_range);
    return out;
  }
  const auto dash = range_text.find('-');
  if (dash == std::string_view::npos) return make_error_code(error::bad_content_range);
  const auto first = parse_digits(range_text.substr(0, dash));
  const auto last = parse_digits(range_text.substr(dash + 1));
  if (!first || !last || *first > *last) return make_error_code(error::bad_content_range);
  if (out.total && *last >= *out.total) return make_error_code(error::bad_content_range);
  out.range = byte_range{*first, *last};
  return out;
}

}  // namespace gw::http
