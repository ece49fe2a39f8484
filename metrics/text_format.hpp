#pragma once
// The Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format).
// Metrics come out in catalogue order, series in label-value order, so the same snapshot always
// renders the same bytes.
#include <string>
#include <string_view>

#include "metrics/metrics.hpp"
#include "metrics/snapshot.hpp"

namespace gw::metrics {

// The Content-Type a scraper expects for this format.
inline constexpr std::string_view text_content_type = "text/plain; version=0.0.4; charset=utf-8";

// Every metric of the catalogue.
std::string render_text(const snapshot& s);

// One metric: its HELP and TYPE lines, then its samples (for a histogram: _bucket lines,
// cumulative, ending with le="+Inf", then _sum and _count).
void render_metric(std::string& out, const snapshot& s, metric m);

// Label values escape backslash, double quote and line feed; HELP text escapes only backslash
// and line feed. Anything else, UTF-8 included, passes through unchanged.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);

// Shortest text that reads back as the same double (Go's ParseFloat, which Prometheus uses,
// accepts it), "+Inf", "-Inf" or "NaN".
std::string format_value(double value);

}  // namespace gw::metrics
