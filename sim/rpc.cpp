#include "sim/rpc.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace gw::sim {
namespace {

using json = nlohmann::ordered_json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

response whole_error(int code, std::string message, std::string context) {
  const json body{{"error", {{"code", code}, {"message", message}, {"context", context}}}};
  return make_response(200, dump(body), application_json);
}

// A per-call failure: the status and, where it helps, an error object.
json failure(std::string status, int code, std::string message, std::string context) {
  return {{"status", std::move(status)},
          {"error", {{"code", code}, {"message", std::move(message)}, {"context", context}}}};
}

json bad_arguments(std::string message) {
  return failure("fail", 400, std::move(message), "arguments");
}

json status_only(std::string status) {
  return {{"status", std::move(status)}};
}

json ok() {
  return status_only("ok");
}

json ok(json result) {
  return {{"status", "ok"}, {"result", std::move(result)}};
}

struct call {
  std::optional<json> id;
  std::string procedure;
  json arguments;
};

// A resource argument: a RID, {"alias": name} or {"alias": ""} for the client itself.
struct target {
  bool client = false;
  dataport* port = nullptr;
  bool found() const { return client || port; }
};

target resolve(device& d, const json& res) {
  if (res.is_string()) {
    const auto rid = to_lower(res.get<std::string>());
    if (rid == d.rid) return {true, nullptr};
    return {false, state::find_rid(d, rid)};
  }
  if (res.is_object() && res.contains("alias") && res["alias"].is_string()) {
    const auto alias = res["alias"].get<std::string>();
    if (alias.empty()) return {true, nullptr};
    return {false, state::find_alias(d, alias)};
  }
  return {};
}

std::optional<std::string> value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  return std::nullopt;
}

std::optional<std::int64_t> integer_option(const json& options, const char* key) {
  if (!options.is_object() || !options.contains(key)) return std::nullopt;
  const auto& v = options[key];
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float()) return static_cast<std::int64_t>(v.get<double>());
  return std::nullopt;
}

json point_json(const point& p) {
  return json::array({p.ts, p.value});
}

std::vector<std::string> aliases_of(const device& d, const std::string& rid) {
  std::vector<std::string> out;
  for (const auto& [alias, target_rid] : d.aliases) {
    if (target_rid == rid) out.push_back(alias);
  }
  return out;
}

const json& arg(const json& args, std::size_t i) {
  static const json none;
  return i < args.size() ? args[i] : none;
}

json do_read(device& d, const json& args) {
  const auto t = resolve(d, arg(args, 0));
  if (!t.port) return status_only("invalid");
  const auto& options = arg(args, 1);
  if (!options.is_null() && !options.is_object()) return bad_arguments("options must be an object");
  const auto start = integer_option(options, "starttime");
  const auto end = integer_option(options, "endtime");
  const auto limit = integer_option(options, "limit").value_or(1);
  if (limit < 0) return bad_arguments("limit must not be negative");
  bool ascending = false;
  if (options.is_object() && options.contains("sort")) {
    if (options["sort"] != "asc" && options["sort"] != "desc") {
      return bad_arguments("sort must be \"asc\" or \"desc\"");
    }
    ascending = options["sort"] == "asc";
  }
  std::vector<const point*> selected;
  for (const auto& p : t.port->points) {
    if ((!start || p.ts >= *start) && (!end || p.ts <= *end)) selected.push_back(&p);
  }
  // The limit keeps the newest points; the sort orders what is kept.
  if (selected.size() > static_cast<std::size_t>(limit)) {
    selected.erase(selected.begin(), selected.end() - limit);
  }
  if (!ascending) std::reverse(selected.begin(), selected.end());
  json result = json::array();
  for (const auto* p : selected) result.push_back(point_json(*p));
  return ok(std::move(result));
}

json do_write(device& d, state& st, const json& args, unix_seconds now) {
  const auto t = resolve(d, arg(args, 0));
  if (!t.port) return status_only("invalid");
  auto value = value_text(arg(args, 1));
  if (!value) return bad_arguments("the value must be a string, number or boolean");
  st.append(*t.port, now, std::move(*value));
  return ok();
}

// record and recordbatch: [res, [[ts, value], ...], options]; a negative ts counts back from now.
json do_record(device& d, state& st, const json& args, unix_seconds now) {
  const auto t = resolve(d, arg(args, 0));
  if (!t.port) return status_only("invalid");
  const auto& entries = arg(args, 1);
  if (!entries.is_array()) return bad_arguments("entries must be a list of [timestamp, value]");
  std::vector<std::pair<unix_seconds, std::string>> points;
  for (const auto& e : entries) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer()) {
      return bad_arguments("entries must be a list of [timestamp, value]");
    }
    auto value = value_text(e[1]);
    if (!value) return bad_arguments("a value must be a string, number or boolean");
    const auto ts = e[0].get<std::int64_t>();
    points.emplace_back(ts < 0 ? now + ts : ts, std::move(*value));
  }
  for (auto& [ts, value] : points) st.append(*t.port, ts, std::move(value));
  return ok();
}

json do_flush(device& d, state& st, const json& args) {
  const auto t = resolve(d, arg(args, 0));
  if (!t.port) return status_only("invalid");
  const auto& options = arg(args, 1);
  st.flush(*t.port, integer_option(options, "newerthan"), integer_option(options, "olderthan"));
  return ok();
}

json do_info(device& d, const json& args) {
  const auto t = resolve(d, arg(args, 0));
  if (!t.found()) return status_only("invalid");
  if (t.client) {
    json aliases = json::object();
    for (const auto& [rid, port] : d.resources) aliases[rid] = aliases_of(d, rid);
    return ok({{"basic",
                {{"type", "client"},
                 {"created", d.created},
                 {"modified", d.created},
                 {"status", d.activated() ? "activated" : "notactivated"},
                 {"subscribers", 0}}},
               {"description", {{"name", d.sn}, {"meta", ""}, {"public", false}}},
               {"key", d.cik},
               {"aliases", std::move(aliases)}});
  }
  const auto* latest = t.port->latest();
  return ok({{"basic",
              {{"type", "dataport"},
               {"created", t.port->created},
               {"modified", latest ? latest->ts : t.port->created},
               {"status", "activated"},
               {"subscribers", 0}}},
             {"description",
              {{"name", t.port->name},
               {"format", t.port->format},
               {"meta", ""},
               {"public", false},
               {"retention", {{"count", "infinity"}, {"duration", "infinity"}}}}},
             {"aliases", aliases_of(d, t.port->rid)}});
}

// listing [types], [types, options] or [res, types, options]. The short form answers a list of
// lists, the forms with options an object keyed by type.
json do_listing(device& d, const json& args) {
  std::size_t types_at = 0;
  bool client = true;
  if (!args.empty() && !args[0].is_array()) {
    const auto t = resolve(d, args[0]);
    if (!t.found()) return status_only("invalid");
    client = t.client;
    types_at = 1;
  }
  const auto& types = arg(args, types_at);
  if (!types.is_array()) return bad_arguments("types must be a list");
  const bool as_object = args.size() > types_at + 1;
  json result = as_object ? json::object() : json::array();
  for (const auto& type : types) {
    if (!type.is_string()) return bad_arguments("types must be strings");
    const auto name = type.get<std::string>();
    if (name != "dataport" && name != "client" && name != "datarule" && name != "dispatch") {
      return bad_arguments("unknown type " + name);
    }
    json rids = json::array();
    if (client && name == "dataport") {
      for (const auto& [rid, port] : d.resources) rids.push_back(rid);
    }
    if (as_object)
      result[name] = std::move(rids);
    else
      result.push_back(std::move(rids));
  }
  return ok(std::move(result));
}

json do_lookup(device& d, const json& args) {
  if (arg(args, 0) != "alias" || !arg(args, 1).is_string()) {
    return bad_arguments("lookup supports [\"alias\", name]");
  }
  const auto* port = state::find_alias(d, arg(args, 1).get<std::string>());
  return port ? ok(port->rid) : status_only("invalid");
}

json do_map(device& d, const json& args) {
  if (arg(args, 0) != "alias" || !arg(args, 1).is_string() || !arg(args, 2).is_string()) {
    return bad_arguments("map takes [\"alias\", rid, alias]");
  }
  const auto* port = state::find_rid(d, arg(args, 1).get<std::string>());
  const auto alias = arg(args, 2).get<std::string>();
  if (!port || alias.empty() || d.aliases.count(alias)) return status_only("invalid");
  d.aliases[alias] = port->rid;
  return ok();
}

json do_unmap(device& d, const json& args) {
  if (arg(args, 0) != "alias" || !arg(args, 1).is_string()) {
    return bad_arguments("unmap takes [\"alias\", alias]");
  }
  return d.aliases.erase(arg(args, 1).get<std::string>()) ? ok() : status_only("invalid");
}

json do_create(device& d, state& st, const json& args, unix_seconds now) {
  if (arg(args, 0) != "dataport") {
    return failure("error", 501, "onep-sim creates only dataports", "arguments");
  }
  const auto& desc = arg(args, 1);
  if (!desc.is_null() && !desc.is_object()) return bad_arguments("description must be an object");
  std::string name, format = "string";
  if (desc.is_object() && desc.contains("name") && desc["name"].is_string()) {
    name = desc["name"].get<std::string>();
  }
  if (desc.is_object() && desc.contains("format") && desc["format"].is_string()) {
    format = desc["format"].get<std::string>();
  }
  return ok(st.create_dataport(d, std::move(name), std::move(format), now).rid);
}

json do_drop(device& d, state& st, const json& args) {
  const auto t = resolve(d, arg(args, 0));
  if (t.client) return status_only("restricted");
  if (!t.port) return status_only("invalid");
  st.drop_dataport(d, t.port->rid);
  return ok();
}

json run(const call& c, device& d, state& st, unix_seconds now) {
  const auto& p = c.procedure;
  const auto& a = c.arguments;
  if (p == "read") return do_read(d, a);
  if (p == "write") return do_write(d, st, a, now);
  if (p == "record" || p == "recordbatch") return do_record(d, st, a, now);
  if (p == "flush") return do_flush(d, st, a);
  if (p == "info") return do_info(d, a);
  if (p == "listing") return do_listing(d, a);
  if (p == "lookup") return do_lookup(d, a);
  if (p == "map") return do_map(d, a);
  if (p == "unmap") return do_unmap(d, a);
  if (p == "create") return do_create(d, st, a, now);
  if (p == "drop") return do_drop(d, st, a);
  return failure("error", 501, "procedure '" + p + "' is not supported by onep-sim", "procedure");
}

class rpc_exchange final : public deferred {
 public:
  rpc_exchange(std::string cik, std::vector<call> calls)
      : cik_(std::move(cik)), calls_(std::move(calls)) {}

  time_point deadline() const override { return wait_ ? wait_->deadline : time_point{}; }

  std::optional<response> poll(state& st, time_point now) override {
    while (next_ < calls_.size()) {
      const auto& c = calls_[next_];
      auto* d = st.find_by_cik(cik_);
      std::optional<json> entry;
      if (!d)
        entry = status_only("noauth");
      else if (c.procedure == "wait")
        entry = step_wait(c, *d, st, now);
      else
        entry = run(c, *d, st, to_unix(now));
      if (!entry) return std::nullopt;
      if (c.id) {
        json answer{{"id", *c.id}};
        answer.update(*entry);
        answers_.push_back(std::move(answer));
      }
      ++next_;
    }
    return make_response(200, dump(answers_), application_json);
  }

 private:
  struct pending_wait {
    json resource;
    unix_seconds since;
    std::uint64_t seq_at_start;
    time_point deadline;
  };

  // wait [res, {"timeout": ms, "since": ts|null}]: the same "newer" rule as the long-poll.
  std::optional<json> step_wait(const call& c, device& d, state& st, time_point now) {
    if (!wait_) {
      const auto& options = arg(c.arguments, 1);
      if (!options.is_null() && !options.is_object()) {
        return bad_arguments("options must be an object");
      }
      const auto ms = integer_option(options, "timeout").value_or(default_wait_timeout.count());
      const auto timeout =
          std::clamp(std::chrono::milliseconds(ms), std::chrono::milliseconds(0), max_wait_timeout);
      wait_ =
          pending_wait{arg(c.arguments, 0), integer_option(options, "since").value_or(to_unix(now)),
                       st.last_seq(), now + timeout};
    }
    const auto t = resolve(d, wait_->resource);
    if (!t.port) {
      wait_.reset();
      return status_only("invalid");
    }
    if (const auto* p = t.port->latest(); p && is_newer(*p, wait_->since, wait_->seq_at_start)) {
      wait_.reset();
      return ok(point_json(*p));
    }
    if (now >= wait_->deadline) {
      wait_.reset();
      return status_only("expire");
    }
    return std::nullopt;
  }

  std::string cik_;
  std::vector<call> calls_;
  std::size_t next_ = 0;
  json answers_ = json::array();
  std::optional<pending_wait> wait_;
};

}  // namespace

outcome handle_rpc(const request& req, state& st, time_point now) {
  if (req.method != "POST") return make_response(405).with("Allow", "POST");
  const auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return whole_error(-1, "the body is not JSON", "calls");
  if (!body.is_object()) return whole_error(400, "the request must be an object", "calls");
  const auto auth = body.find("auth");
  if (auth == body.end() || !auth->is_object() || !auth->contains("cik") ||
      !(*auth)["cik"].is_string()) {
    return whole_error(400, "auth must be an object with a cik", "auth");
  }
  const auto calls_it = body.find("calls");
  if (calls_it == body.end() || !calls_it->is_array()) {
    return whole_error(400, "calls must be a list", "calls");
  }
  std::vector<call> calls;
  for (const auto& c : *calls_it) {
    if (!c.is_object() || !c.contains("procedure") || !c["procedure"].is_string()) {
      return whole_error(400, "every call needs a procedure", "calls");
    }
    call parsed{std::nullopt, c["procedure"].get<std::string>(), json::array()};
    if (c.contains("arguments")) {
      if (!c["arguments"].is_array()) return whole_error(400, "arguments must be a list", "calls");
      parsed.arguments = c["arguments"];
    }
    if (c.contains("id")) {
      if (!c["id"].is_number() && !c["id"].is_string()) {
        return whole_error(400, "a call id must be a number or a string", "calls");
      }
      parsed.id = c["id"];
    }
    calls.push_back(std::move(parsed));
  }
  const auto* d = st.find_by_cik((*auth)["cik"].get<std::string>());
  if (!d) return whole_error(401, "invalid credentials", "auth");

  auto exchange = std::make_unique<rpc_exchange>(d->cik, std::move(calls));
  if (auto answer = exchange->poll(st, now)) return std::move(*answer);
  return exchange;
}

}  // namespace gw::sim
