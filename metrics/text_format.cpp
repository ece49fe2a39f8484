#include "metrics/text_format.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <span>

namespace gw::metrics {

namespace {

void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '"':
        out += quote ? "\\\"" : "\"";
        break;
      default:
        out += c;
    }
  }
}

void append_uint(std::string& out, std::uint64_t v) {
  std::array<char, 24> buf;
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), end);
}

std::string_view type_name(kind k) {
  switch (k) {
    case kind::counter:
      return "counter";
    case kind::gauge:
      return "gauge";
    case kind::histogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"}`, with `le` last when given; nothing at all for no labels.
void append_labels(std::string& out, std::span<const std::string_view> names,
                   const label_values& values, std::string_view le = {}) {
  if (names.empty() && le.empty()) return;
  out += '{';
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    append_escaped(out, values[i], true);
    out += '"';
  }
  if (!le.empty()) {
    if (!names.empty()) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

void append_histogram(std::string& out, const descriptor& d, const label_values& labels,
                      const sample& s) {
  const auto names = d.label_list();
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b <= d.buckets.size(); ++b) {
    cumulative += s.buckets[b];
    out += d.name;
    out += "_bucket";
    const auto le = b < d.buckets.size() ? format_value(d.buckets[b]) : std::string("+Inf");
    append_labels(out, names, labels, le);
    out += ' ';
    append_uint(out, cumulative);
    out += '\n';
  }
  out += d.name;
  out += "_sum";
  append_labels(out, names, labels);
  out += ' ';
  out += format_value(s.value);
  out += '\n';
  out += d.name;
  out += "_count";
  append_labels(out, names, labels);
  out += ' ';
  append_uint(out, s.count);
  out += '\n';
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  append_escaped(out, value, true);
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  append_escaped(out, help, false);
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  std::array<char, 32> buf;
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  return std::string(buf.data(), end);
}

void render_metric(std::string& out, const snapshot& s, metric m) {
  const auto& d = describe(m);
  out += "# HELP ";
  out += d.name;
  out += ' ';
  append_escaped(out, d.help, false);
  out += "\n# TYPE ";
  out += d.name;
  out += ' ';
  out += type_name(d.type);
  out += '\n';
  for (const auto& [labels, value] : s.series(m)) {
    if (d.type == kind::histogram) {
      append_histogram(out, d, labels, value);
      continue;
    }
    out += d.name;
    append_labels(out, d.label_list(), labels);
    out += ' ';
    if (d.type == kind::counter) {
      append_uint(out, value.count);
    } else {
      out += format_value(value.value);
    }
    out += '\n';
  }
}

std::string render_text(const snapshot& s) {
  std::string out;
  out.reserve(8192);
  for (std::size_t i = 0; i < metric_count; ++i) render_metric(out, s, static_cast<metric>(i));
  return out;
}

}  // namespace gw::metrics
