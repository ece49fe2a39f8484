#include "translate/dataport.hpp"

#include <algorithm>
#include "http/form.hpp"

#include "translate/cbor_json.hpp"
#include "translate/cik.hpp"
#include "translate/content_format.hpp"
#include "translate/json_fields.hpp"
#include "translate/utf8.hpp"

namespace gw::translate {
namespace {

constexpr std::string_view form_type = "application/x-www-form-urlencoded; charset=utf-8";
constexpr std::string_view data_path = "/onep:v1/stack/alias";

// A JSON scalar as the text a dataport stores; nullopt for arrays, maps and null.
std::optional<std::string> scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return v.dump();
  return std::nullopt;
}

}  // namespace

void add_cik(upstream::request& r, const std::string& cik) {
  r.headers.push_back({"X-Exosite-CIK", cik});
}

std::variant<std::string, coap::message> write_value(const coap::message& request) {
  auto format = request.content_format();
  if (!format || *format == cf::text_plain) {
    std::string text(request.payload_text());
    if (!is_valid_utf8(text))
      return coap::make_error(request, coap::codes::bad_request, "value is not UTF-8");
    return text;
  }
  if (*format == cf::cbor) {
    auto decoded = cbor_to_json(request.payload);
    if (!decoded)
      return coap::make_error(request, coap::codes::bad_request,
                              "bad CBOR: " + decoded.error().to_string());
    if (auto text = scalar_text(*decoded)) return *text;
    return coap::make_error(request, coap::codes::bad_request,
                            "CBOR value must be a text string, number or boolean");
  }
  if (*format == cf::json) {
    // node-coap-client labels every request JSON: a JSON string or number is the value.
    auto v = json::parse(request.payload_text(), nullptr, false);
    if (!v.is_discarded() && (v.is_string() || v.is_number())) return *scalar_text(v);
  }
  return coap::make_error(request, coap::codes::unsupported_content_format,
                          "use Content-Format 0 or 60 (or 50 with a JSON string or number)");
}

upstream::request plan_write(const std::string& cik, const std::string& alias,
                             const std::string& value) {
  upstream::request r;
  r.method = "POST";
  r.target = std::string(data_path);
  r.headers.push_back({"Content-Type", std::string(form_type)});
  add_cik(r, cik);
  r.body = http::form_encode({{alias, value}});
  return r;
}

upstream::request plan_read(const std::string& cik, std::span<const std::string> aliases) {
  upstream::request r;
  r.method = "GET";
  r.target = std::string(data_path) + "?" + http::alias_query(aliases);
  r.headers.push_back({"Accept", std::string(form_type)});
  add_cik(r, cik);
  return r;
}

upstream::request plan_long_poll(const std::string& cik, const std::string& alias,
                                 std::int64_t since, std::chrono::milliseconds wait) {
  auto r = plan_read(cik, std::span(&alias, 1));
  r.headers.push_back({"Request-Timeout", std::to_string(wait.count())});
  r.headers.push_back({"If-Modified-Since", std::to_string(since)});
  return r;
}

upstream::request plan_latest_point(const std::string& cik, const std::string& alias) {
  return plan_long_poll(cik, alias, 0, std::chrono::milliseconds(1));
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_read_body(
    const upstream::response& r) {
  auto pairs = http::form_decode(r.body);
  if (!pairs) return std::nullopt;
  return std::move(*pairs);
}

coap::message render_value(const coap::message& request, std::string_view value,
                           std::uint32_t max_age_s) {
  auto msg = coap::make_response(request, coap::codes::content);
  msg.add_uint_option(coap::opt::content_format, cf::text_plain);
  msg.add_uint_option(coap::opt::max_age, max_age_s);
  msg.set_payload(value);
  return msg;
}

upstream::request plan_lookups(const std::string& cik, std::span<const std::string> aliases) {
  json calls = json::array();
  for (std::size_t i = 0; i < aliases.size(); ++i)
    calls.push_back({{"id", i + 1},
                     {"procedure", "lookup"},
                     {"arguments", json::array({"alias", aliases[i]})}});
  json body = {{"auth", {{"cik", cik}}}, {"calls", std::move(calls)}};
  upstream::request r;
  r.method = "POST";
  r.target = "/onep:v1/rpc/process";
  r.headers.push_back({"Content-Type", "application/json; charset=utf-8"});
  r.body = body.dump();
  // A lookup changes nothing upstream: safe to retry on a fresh connection.
  r.idempotent = true;
  return r;
}

upstream::request plan_lookup(const std::string& cik, const std::string& alias) {
  return plan_lookups(cik, std::span(&alias, 1));
}

namespace {

alias_state call_state(const json& call) {
  if (!call.is_object()) return alias_state::unknown;
  auto status_field = call.value("status", json(nullptr));
  if (!status_field.is_string()) return alias_state::unknown;
  auto status = status_field.get<std::string>();
  if (status == "ok") return alias_state::exists;
  if (status == "invalid" || status == "restricted") return alias_state::missing;
  if (status == "noauth") return alias_state::unauthorized;
  return alias_state::unknown;
}

}  // namespace

std::vector<alias_state> parse_lookups(const upstream::response& r, std::size_t count) {
  std::vector<alias_state> states(count, alias_state::unknown);
  if (r.status != 200) {
    if (r.status == 401) std::fill(states.begin(), states.end(), alias_state::unauthorized);
    return states;
  }
  auto body = json::parse(r.body, nullptr, false);
  if (body.is_object() && whole_request_error(body) == 401) {
    // A whole-request failure (upstream-http-api.md: decided from the body, not the status).
    std::fill(states.begin(), states.end(), alias_state::unauthorized);
    return states;
  }
  if (!body.is_array()) return states;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const auto& call = body[i];
    if (!call.is_object()) continue;
    // Answers name their call by id; one without an id is taken by its position.
    const auto id = call.value("id", json(nullptr));
    const auto n = id.is_number_unsigned() ? id.get<std::uint64_t>() : i + 1;
    if (n >= 1 && n <= count) states[n - 1] = call_state(call);
  }
  return states;
}

alias_state parse_lookup(const upstream::response& r) {
  return parse_lookups(r, 1).front();
}

coap::message render_alias_missing(const coap::message& request) {
  return coap::make_error(request, coap::codes::forbidden, "no such alias for this CIK");
}

std::variant<multi_plan, coap::message> plan_multi(const coap::message& request,
                                                   const std::string& cik) {
  multi_plan plan;
  auto queries = request.queries();
  for (std::size_t i = 1; i < queries.size(); ++i) plan.reads.emplace_back(query_alias(queries[i]));

  auto format = request.content_format();
  if (format && *format != cf::cbor)
    return coap::make_error(request, coap::codes::unsupported_content_format,
                            "payload must be CBOR (Content-Format 60)");
  if (!request.payload.empty()) {
    auto decoded = cbor_to_json(request.payload);
    if (!decoded)
      return coap::make_error(request, coap::codes::bad_request,
                              "bad CBOR: " + decoded.error().to_string());
    if (!decoded->is_object())
      return coap::make_error(request, coap::codes::bad_request,
                              "payload must be a CBOR map of alias to value");
    for (const auto& [alias, value] : decoded->items()) {
      auto text = scalar_text(value);
      if (!text)
        return coap::make_error(
            request, coap::codes::bad_request,
            "value of \"" + alias + "\" must be a text string, number or boolean");
      plan.writes.emplace_back(alias, *text);
    }
  }

  if (plan.writes.empty() && plan.reads.empty()) {
    // Nothing to read or write: the empty answer needs no upstream call.
    auto msg = coap::make_response(request, coap::codes::content);
    msg.add_uint_option(coap::opt::content_format, cf::cbor);
    msg.payload = json_to_cbor(json::object());
    return msg;
  }
  auto& r = plan.http;
  add_cik(r, cik);
  if (plan.writes.empty()) {
    r.method = "GET";
    r.target = std::string(data_path) + "?" + http::alias_query(plan.reads);
  } else {
    // A hybrid call when there is something to read (writes happen before reads upstream).
    r.method = "POST";
    r.target = std::string(data_path);
    if (!plan.reads.empty()) r.target += "?" + http::alias_query(plan.reads);
    r.headers.push_back({"Content-Type", std::string(form_type)});
    r.body = http::form_encode(plan.writes);
  }
  if (!plan.reads.empty()) r.headers.push_back({"Accept", std::string(form_type)});
  return plan;
}

coap::message render_multi(const coap::message& request, const multi_plan& plan,
                           const upstream::response& r) {
  json answer = json::object();
  for (const auto& alias : plan.reads) answer[alias] = nullptr;
  if (r.status == 200) {
    auto pairs = parse_read_body(r);
    if (!pairs)
      return coap::make_error(request, coap::codes::bad_gateway, "unreadable upstream answer");
    for (auto& [alias, value] : *pairs)
      if (answer.contains(alias)) answer[alias] = value;
  }
  auto msg = coap::make_response(request, coap::codes::content);
  msg.add_uint_option(coap::opt::content_format, cf::cbor);
  msg.payload = json_to_cbor(answer);
  return msg;
}

}  // namespace gw::translate
