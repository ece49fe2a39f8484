// How each value_kind is read from text, written back and described. The table itself is in
// schema.cpp.
#include "conf/schema.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include "conf/value_syntax.hpp"

namespace gw::conf {
namespace {

template <class T>
T& field_of(const key_spec& k, config& c) {
  return std::get<field_ref<T>>(k.target)(c);
}

std::string format_real(double value) {
  std::array<char, 32> buffer{};
  auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  std::string text(buffer.data(), ec == std::errc{} ? end : buffer.data());
  if (text.find_first_of(".en") == std::string::npos) text += ".0";
  return text;
}

std::string format_bound(const key_spec& k, double bound) {
  switch (k.kind) {
    case value_kind::size:
      return format_size(static_cast<std::uint64_t>(bound));
    case value_kind::duration:
      return format_duration(duration{static_cast<duration::rep>(bound)});
    case value_kind::real:
      return format_real(bound);
    default:
      return std::to_string(static_cast<std::uint64_t>(bound));
  }
}

std::string range_text(const key_spec& k) {
  return format_bound(k, k.range.lo) + " to " + format_bound(k, k.range.hi);
}

std::string out_of_range(const key_spec& k, std::string_view text) {
  return std::string(text) + " is out of range (" + range_text(k) + ")";
}

std::string expected(const key_spec& k, std::string_view text) {
  return "expected " + describe_kind(k) + ", got " + quote(text);
}

bool in_range(const key_spec& k, double value) {
  return value >= k.range.lo && value <= k.range.hi;
}

// Counts, sizes and durations share one shape: parse, refuse negatives and overflow as out of
// range (the user wrote the right kind of value, just too far), then check the bounds.
template <class Read>
std::string set_unsigned(const key_spec& k, std::string_view text, config& c, Read read) {
  std::uint64_t value = 0;
  value_syntax r = read(text, value);
  if (r == value_syntax::malformed && text.starts_with('-')) {
    std::uint64_t ignored = 0;
    if (read(text.substr(1), ignored) == value_syntax::ok) return out_of_range(k, text);
  }
  if (r == value_syntax::missing_unit) {
    return quote(text) + " has no unit; write ms, s, m, h or d after the number (e.g. 500ms, 2s)";
  }
  if (r == value_syntax::malformed) return expected(k, text);
  if (r == value_syntax::too_large || !in_range(k, static_cast<double>(value))) {
    return out_of_range(k, text);
  }
  if (k.kind == value_kind::duration) {
    field_of<duration>(k, c) = duration{static_cast<duration::rep>(value)};
  } else if (k.stores<std::uint32_t>()) {
    field_of<std::uint32_t>(k, c) = static_cast<std::uint32_t>(value);
  } else {
    field_of<std::uint64_t>(k, c) = value;
  }
  return {};
}

value_syntax read_duration_ms(std::string_view text, std::uint64_t& out) {
  duration d{};
  value_syntax r = read_duration(text, d);
  out = static_cast<std::uint64_t>(d.count());
  return r;
}

std::vector<std::string_view> split_choices(std::string_view choices) {
  std::vector<std::string_view> out;
  while (!choices.empty()) {
    std::size_t bar = choices.find('|');
    out.push_back(choices.substr(0, bar));
    choices = bar == std::string_view::npos ? std::string_view{} : choices.substr(bar + 1);
  }
  return out;
}

}  // namespace

std::string set_from_text(const key_spec& k, std::string_view text, config& c) {
  switch (k.kind) {
    case value_kind::count:
      return set_unsigned(k, text, c, read_count);
    case value_kind::size:
      return set_unsigned(k, text, c, read_size);
    case value_kind::duration:
      return set_unsigned(k, text, c, read_duration_ms);
    case value_kind::real: {
      double value = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
        return expected(k, text);
      }
      if (!in_range(k, value)) return out_of_range(k, text);
      field_of<double>(k, c) = value;
      return {};
    }
    case value_kind::boolean:
      // YAML 1.2 core schema spellings only; yes/no/on/off are YAML 1.1 and easy to misread.
      if (text == "true" || text == "True" || text == "TRUE") {
        field_of<bool>(k, c) = true;
      } else if (text == "false" || text == "False" || text == "FALSE") {
        field_of<bool>(k, c) = false;
      } else {
        return expected(k, text);
      }
      return {};
    case value_kind::text:
      field_of<std::string>(k, c) = text;
      return {};
    case value_kind::choice: {
      auto choices = split_choices(k.choices);
      if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
        return expected(k, text);
      }
      field_of<std::string>(k, c) = text;
      return {};
    }
    case value_kind::url: {
      std::string problem = check_url(text);
      if (problem.empty()) field_of<std::string>(k, c) = text;
      return problem;
    }
    case value_kind::optional_listen: {
      if (text.empty()) {
        field_of<std::string>(k, c).clear();
        return {};
      }
      listen_address address;
      std::string problem = read_listen(text, address);
      if (problem.empty()) field_of<std::string>(k, c) = format_listen(address);
      return problem;
    }
    case value_kind::listen_list:
    case value_kind::optional_listen_list:
      break;
  }
  return expected(k, text);
}

void set_listen_list(const key_spec& k, std::vector<listen_address> list, config& c) {
  field_of<std::vector<listen_address>>(k, c) = std::move(list);
}

std::string format_value(const key_spec& k, config& c) {
  switch (k.kind) {
    case value_kind::count:
    case value_kind::size: {
      std::uint64_t value =
          k.stores<std::uint32_t>() ? field_of<std::uint32_t>(k, c) : field_of<std::uint64_t>(k, c);
      return k.kind == value_kind::size ? format_size(value) : std::to_string(value);
    }
    case value_kind::duration:
      return format_duration(field_of<duration>(k, c));
    case value_kind::real:
      return format_real(field_of<double>(k, c));
    case value_kind::boolean:
      return field_of<bool>(k, c) ? "true" : "false";
    case value_kind::text:
    case value_kind::choice:
    case value_kind::url:
    case value_kind::optional_listen: {
      const std::string& text = field_of<std::string>(k, c);
      return text.empty() ? "\"\"" : text;
    }
    case value_kind::listen_list:
    case value_kind::optional_listen_list: {
      std::string out = "[";
      for (const listen_address& a : field_of<std::vector<listen_address>>(k, c)) {
        if (out.size() > 1) out += ", ";
        out += "\"" + format_listen(a) + "\"";
      }
      return out + "]";
    }
  }
  return {};
}

std::string describe_kind(const key_spec& k) {
  switch (k.kind) {
    case value_kind::count:
      return "a whole number";
    case value_kind::size:
      return "a size in bytes, or with KiB, MiB or GiB (e.g. 1152, 64KiB)";
    case value_kind::duration:
      return "a duration with ms, s, m, h or d (e.g. 500ms, 2s, 5m)";
    case value_kind::real:
      return "a number";
    case value_kind::boolean:
      return "true or false";
    case value_kind::text:
      return "a string";
    case value_kind::choice: {
      std::string out = "one of ";
      for (std::string_view choice : split_choices(k.choices)) {
        if (out.size() > 7) out += ", ";
        out += choice;
      }
      return out;
    }
    case value_kind::url:
      return "an http:// or https:// URL";
    case value_kind::optional_listen:
      return "host:port, or \"\" for off";
    case value_kind::listen_list:
      return "a list of host:port addresses";
    case value_kind::optional_listen_list:
      return "a list of host:port addresses, [] for off";
  }
  return {};
}

std::vector<key_doc> describe_keys() {
  config defaults;
  std::vector<key_doc> docs;
  for (const key_spec& k : schema()) {
    bool ranged = k.kind == value_kind::count || k.kind == value_kind::size ||
                  k.kind == value_kind::duration || k.kind == value_kind::real;
    docs.push_back({std::string(k.path), describe_kind(k), ranged ? range_text(k) : std::string(),
                    format_value(k, defaults), std::string(k.doc)});
  }
  return docs;
}

}  // namespace gw::conf
