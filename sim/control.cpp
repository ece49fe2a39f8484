#include "sim/control.hpp"

#include <nlohmann/json.hpp>

#include "http/form.hpp"

namespace gw::sim {
namespace {

using json = nlohmann::ordered_json;

constexpr std::array<std::string_view, counted_endpoints> names{
    "write", "read", "hybrid",   "longpoll",  "activate",
    "list",  "info", "download", "timestamp", "rpc"};

response json_response(const json& body) {
  return make_response(200, body.dump(-1, ' ', false, json::error_handler_t::replace),
                       application_json);
}

std::optional<fault::action> parse_action(std::string_view text) {
  if (text == "none") return fault::action::none;
  if (text == "close") return fault::action::close;
  if (text == "status") return fault::action::status;
  if (text == "garbage") return fault::action::garbage;
  return std::nullopt;
}

// The body of POST /_sim/fault; every field optional.
std::optional<fault> parse_fault(const std::string& body, std::string& problem) {
  const auto j = json::parse(body.empty() ? std::string("{}") : body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    problem = "the body must be a JSON object";
    return std::nullopt;
  }
  fault f;
  for (const auto& [key, value] : j.items()) {
    if (key == "match" && value.is_string()) {
      f.match = value.get<std::string>();
    } else if (key == "delay_ms" && value.is_number_unsigned()) {
      f.delay = std::chrono::milliseconds(value.get<std::uint64_t>());
    } else if (key == "action" && value.is_string() && parse_action(value.get<std::string>())) {
      f.act = *parse_action(value.get<std::string>());
    } else if (key == "status" && value.is_number_unsigned() && value.get<unsigned>() >= 100 &&
               value.get<unsigned>() <= 599) {
      f.status = value.get<unsigned>();
    } else if (key == "headers" && value.is_object()) {
      for (const auto& [name, text] : value.items()) {
        if (!text.is_string()) {
          problem = "header values must be strings";
          return std::nullopt;
        }
        f.headers.emplace_back(name, text.get<std::string>());
      }
    } else if (key == "body" && value.is_string()) {
      f.body = value.get<std::string>();
    } else if (key == "times" && value.is_number_unsigned() && value.get<std::uint64_t>() > 0) {
      f.times = value.get<std::uint64_t>();
    } else {
      problem = "bad or unknown field \"" + key + "\"";
      return std::nullopt;
    }
  }
  return f;
}

}  // namespace

std::string_view endpoint_name(endpoint ep) {
  const auto i = static_cast<std::size_t>(ep);
  return i < names.size() ? names[i] : "other";
}

bool control::is_control_path(const request& req) {
  return req.path().starts_with("/_sim/");
}

void control::on_request(endpoint ep, const request& req) {
  logged_request entry{req.method, req.target, {}, req.body};
  for (const auto& [name, value] : req.headers) entry.headers.emplace_back(to_lower(name), value);
  log_.push_back(std::move(entry));
  if (log_.size() > request_log_size) log_.pop_front();
  if (ep == endpoint::other) return;
  auto& c = endpoints_[static_cast<std::size_t>(ep)];
  ++c.requests;
  c.bytes_in += req.body.size();
}

void control::on_response(endpoint ep, std::size_t body_bytes) {
  if (ep == endpoint::other) return;
  endpoints_[static_cast<std::size_t>(ep)].bytes_out += body_bytes;
}

void control::on_wait_started(endpoint ep, const std::string& target) {
  ++(ep == endpoint::longpoll ? longpolls_active_ : waits_active_);
  if (ep == endpoint::longpoll) ++longpolls_by_target_[target];
}

void control::on_wait_ended(endpoint ep, const std::string& target) {
  --(ep == endpoint::longpoll ? longpolls_active_ : waits_active_);
  if (ep != endpoint::longpoll) return;
  if (auto it = longpolls_by_target_.find(target);
      it != longpolls_by_target_.end() && --it->second == 0)
    longpolls_by_target_.erase(it);
}

std::optional<fault> control::take_fault(std::string_view target) {
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (!target.starts_with(it->match)) continue;
    fault chosen = *it;
    if (it->times && --*it->times == 0) faults_.erase(it);
    return chosen;
  }
  return std::nullopt;
}

response control::handle(const request& req, state& st) {
  const auto path = req.path();
  const auto only = [&](std::string_view method) { return req.method == method; };
  if (path == "/_sim/stats") return only("GET") ? stats() : make_response(405);
  if (path == "/_sim/requests") return only("GET") ? requests() : make_response(405);
  if (path == "/_sim/dataport") return only("GET") ? dataport_view(req, st) : make_response(405);
  if (path == "/_sim/reset") {
    if (!only("POST")) return make_response(405);
    connections_ = 0;
    endpoints_ = {};
    log_.clear();
    faults_.clear();
    return make_response(204);
  }
  if (path == "/_sim/fault") {
    if (only("POST")) return add_fault(req);
    if (only("DELETE")) {
      faults_.clear();
      return make_response(204);
    }
    return make_response(405);
  }
  return make_response(404, "no such inspection endpoint");
}

response control::stats() const {
  json endpoints = json::object();
  for (std::size_t i = 0; i < counted_endpoints; ++i) {
    endpoints[std::string(names[i])] = {{"requests", endpoints_[i].requests},
                                        {"bytes_in", endpoints_[i].bytes_in},
                                        {"bytes_out", endpoints_[i].bytes_out}};
  }
  return json_response({{"connections", connections_},
                        {"endpoints", std::move(endpoints)},
                        {"longpolls_active", longpolls_active_},
                        {"longpolls_by_target", longpolls_by_target_},
                        {"waits_active", waits_active_}});
}

response control::requests() const {
  json out = json::array();
  for (const auto& r : log_) {
    json headers = json::object();
    for (const auto& [name, value] : r.headers) {
      // Repeated fields fold into one, as RFC 9110 §5.3 allows for list-based fields.
      if (headers.contains(name))
        headers[name] = headers[name].get<std::string>() + ", " + value;
      else
        headers[name] = value;
    }
    out.push_back({{"method", r.method},
                   {"target", r.target},
                   {"headers", std::move(headers)},
                   {"body", r.body}});
  }
  return json_response(out);
}

response control::add_fault(const request& req) {
  std::string problem;
  auto f = parse_fault(req.body, problem);
  if (!f) return make_response(400, problem);
  faults_.push_back(std::move(*f));
  return make_response(204);
}

response control::dataport_view(const request& req, state& st) const {
  const auto pairs = http::form_decode(req.query());
  if (!pairs) return make_response(400, "bad query");
  std::string cik, alias;
  for (const auto& [key, value] : *pairs) {
    if (key == "cik")
      cik = value;
    else if (key == "alias")
      alias = value;
  }
  auto* d = st.find_by_cik(cik);
  const auto* port = d ? state::find_alias(*d, alias) : nullptr;
  json values = json::array();
  if (port) {
    for (const auto& p : port->points) values.push_back(json::array({p.ts, p.value}));
  }
  return json_response({{"exists", port != nullptr}, {"values", std::move(values)}});
}

}  // namespace gw::sim
