// The Prometheus text format 0.0.4: exact text for small snapshots, escaping, and a grammar
// check of a whole exposition.
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "metrics/registry.hpp"
#include "metrics/text_format.hpp"

namespace m = gw::metrics;

namespace {

std::string render(const m::snapshot& s, m::metric id) {
  std::string out;
  m::render_metric(out, s, id);
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// One sample line: name, optional {label="value",...} with the format's escapes, one space,
// a number. Returns the metric name, or "" when the line does not parse.
std::string parse_sample(std::string_view line) {
  std::size_t i = 0;
  const auto name_char = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
  };
  while (i < line.size() && name_char(line[i], i == 0)) ++i;
  const std::string name(line.substr(0, i));
  if (name.empty()) return {};
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const auto start = i;
      while (i < line.size() && name_char(line[i], i == start)) ++i;
      if (i == start || line.substr(i, 2) != "=\"") return {};
      i += 2;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\') {
          if (i + 1 >= line.size() ||
              std::string_view("\\\"n").find(line[i + 1]) == std::string_view::npos) {
            return {};
          }
          ++i;
        }
        ++i;
      }
      if (i >= line.size()) return {};
      ++i;  // closing quote
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return {};
    ++i;  // closing brace
  }
  if (i >= line.size() || line[i] != ' ') return {};
  const std::string value(line.substr(i + 1));
  if (value == "+Inf" || value == "-Inf" || value == "NaN") return name;
  char* end = nullptr;
  std::strtod(value.c_str(), &end);
  return !value.empty() && *end == '\0' ? name : std::string();
}

}  // namespace

TEST_CASE("label values escape backslash, double quote and line feed only") {
  CHECK(m::escape_label_value("plain") == "plain");
  CHECK(m::escape_label_value("a\\b") == "a\\\\b");
  CHECK(m::escape_label_value("say \"hi\"") == "say \\\"hi\\\"");
  CHECK(m::escape_label_value("two\nlines") == "two\\nlines");
  CHECK(m::escape_label_value("tab\tand\rcr") == "tab\tand\rcr");
  CHECK(m::escape_label_value("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(m::escape_label_value("") == "");
}

TEST_CASE("HELP text escapes backslash and line feed, not quotes") {
  CHECK(m::escape_help("a \"quoted\" word") == "a \"quoted\" word");
  CHECK(m::escape_help("back\\slash\nnext") == "back\\\\slash\\nnext");
}

TEST_CASE("values are the shortest text that reads back exactly") {
  CHECK(m::format_value(0) == "0");
  CHECK(m::format_value(7) == "7");
  CHECK(m::format_value(-2) == "-2");
  CHECK(m::format_value(0.001) == "0.001");
  CHECK(m::format_value(2.5) == "2.5");
  CHECK(m::format_value(1712345678.5) == "1712345678.5");
  CHECK(m::format_value(0.1 + 0.2) == "0.30000000000000004");
  CHECK(m::format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(m::format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(m::format_value(std::numeric_limits<double>::quiet_NaN()) == "NaN");
}

TEST_CASE("a labelled counter renders its series in label order, values escaped") {
  m::registry r;
  auto& s = r.add_shard();
  s.add(m::requests_total, {"rpc", "5.04"});
  s.add(m::requests_total, {"read", "2.05"}, 3);
  s.add(m::requests_total, {"a\"b\\c\nd", "x"});
  CHECK(render(r.collect(), m::requests_total.id) ==
        "# HELP coap_gateway_requests_total CoAP requests answered, by procedure (read, write, "
        "rpc, ... or none) and code\n"
        "# TYPE coap_gateway_requests_total counter\n"
        "coap_gateway_requests_total{procedure=\"a\\\"b\\\\c\\nd\",code=\"x\"} 1\n"
        "coap_gateway_requests_total{procedure=\"read\",code=\"2.05\"} 3\n"
        "coap_gateway_requests_total{procedure=\"rpc\",code=\"5.04\"} 1\n");
}

TEST_CASE("a labelled counter without series renders only its HELP and TYPE") {
  CHECK(render(m::snapshot{}, m::upstream_requests_total.id) ==
        "# HELP coap_gateway_upstream_requests_total Upstream HTTP requests completed, by HTTP "
        "status or error name\n"
        "# TYPE coap_gateway_upstream_requests_total counter\n");
}

TEST_CASE("unlabelled counters and gauges render one sample, zero included") {
  m::registry r;
  r.add_shard().set(m::observations_active, 7);
  r.set(m::process_start_time_seconds, 1712345678.5);
  const auto snap = r.collect();
  CHECK(render(snap, m::gave_up_total.id) ==
        "# HELP coap_gateway_gave_up_total Confirmable messages abandoned after MAX_RETRANSMIT "
        "attempts without an ACK\n"
        "# TYPE coap_gateway_gave_up_total counter\n"
        "coap_gateway_gave_up_total 0\n");
  CHECK(render(snap, m::observations_active.id) ==
        "# HELP coap_gateway_observations_active Observe relations registered\n"
        "# TYPE coap_gateway_observations_active gauge\n"
        "coap_gateway_observations_active 7\n");
  CHECK(render(snap, m::process_start_time_seconds.id) ==
        "# HELP process_start_time_seconds Start time of the process since the Unix epoch in "
        "seconds\n"
        "# TYPE process_start_time_seconds gauge\n"
        "process_start_time_seconds 1712345678.5\n");
}

TEST_CASE("a histogram renders cumulative buckets up to +Inf, then _sum and _count") {
  m::registry r;
  auto& s = r.add_shard();
  s.observe(m::request_duration_seconds, 0.25);  // on a bound: counts in le="0.25"
  s.observe(m::request_duration_seconds, 0.5);
  s.observe(m::request_duration_seconds, 0.5);
  s.observe(m::request_duration_seconds, 64.0);  // above every bound
  CHECK(render(r.collect(), m::request_duration_seconds.id) ==
        "# HELP coap_gateway_request_duration_seconds Time from a CoAP request's arrival to its "
        "response\n"
        "# TYPE coap_gateway_request_duration_seconds histogram\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"1e-04\"} 0\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"0.00025\"} 0\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"5e-04\"} 0\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"0.001\"} 0\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"0.0025\"} 0\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"0.005\"} 0\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"0.01\"} 0\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"0.025\"} 0\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"0.05\"} 0\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"0.1\"} 0\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"0.25\"} 1\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"0.5\"} 3\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"1\"} 3\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"2.5\"} 3\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"5\"} 3\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"10\"} 3\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"30\"} 3\n"
        "coap_gateway_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"
        "coap_gateway_request_duration_seconds_sum 65.25\n"
        "coap_gateway_request_duration_seconds_count 4\n");
}

TEST_CASE("a whole exposition: every metric once, in list order, every line well formed") {
  m::registry r;
  auto& s = r.add_shard();
  s.add(m::requests_total, {"write", "2.04"});
  s.add(m::upstream_requests_total, {"204"});
  s.observe(m::upstream_duration_seconds, 0.02);
  r.set(m::process_start_time_seconds, 1712345678.25);
  const auto text = m::render_text(r.collect());
  CHECK(text == m::render_text(r.collect()));
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');

  std::vector<std::string> typed;
  std::string current;
  for (const auto& line : lines_of(text)) {
    INFO(line);
    if (line.starts_with("# HELP ")) {
      current = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      CHECK(line.substr(7, current.size()) == current);
      typed.push_back(current);
      continue;
    }
    const auto name = parse_sample(line);
    REQUIRE(!name.empty());
    // Samples belong to the family announced last (histograms add _bucket, _sum, _count).
    CHECK(name.starts_with(current));
  }
  std::vector<std::string> expected;
  for (const auto& d : m::catalogue) expected.emplace_back(d.name);
  CHECK(typed == expected);
}
