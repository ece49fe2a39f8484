#include "runner/procedure_runner.hpp"

#include <algorithm>
#include <chrono>

#include "http/http_date.hpp"
#include "translate/cik.hpp"
#include "translate/content_format.hpp"
#include "translate/dataport.hpp"
#include "translate/provision.hpp"
#include "translate/rpc.hpp"
#include "translate/status_map.hpp"
#include "translate/timestamp.hpp"

namespace gw::runner {

using namespace translate;

namespace {

coap::message unauthorized(const coap::message& request, std::string_view why) {
  return coap::make_error(request, coap::codes::unauthorized, why);
}

// RFC 8516: 4.29 with Max-Age, the earliest the device may write again.
coap::message too_many_writes(const coap::message& request, std::uint32_t retry_after_s) {
  auto response = coap::make_error(request, coap::codes::too_many_requests,
                                   "writes faster than limits.per_cik allows; retry later");
  response.add_uint_option(coap::opt::max_age, retry_after_s);
  return response;
}

}  // namespace

procedure_runner::procedure_runner(upstream::client& client, runner_options options, clock& time,
                                   observed_points* points, upstream::client* long_calls)
    : client_(client),
      long_client_(long_calls != nullptr ? *long_calls : client),
      points_(points),
      options_(options),
      clock_(time),
      aliases_(options.alias_cache),
      content_(options.content_cache_bytes),
      infos_(options.content_info_entries),
      rejected_ciks_(options.rejected_cik_entries),
      writes_(options.write_limit) {}

void procedure_runner::set_options(runner_options options) {
  options_ = options;
  aliases_.set_options(options.alias_cache);
  content_.set_max_bytes(options.content_cache_bytes);
  infos_.set_max_entries(options.content_info_entries);
  rejected_ciks_.set_max_entries(options.rejected_cik_entries);
  writes_.set_options(options.write_limit);
}

procedure_runner::decision procedure_runner::decide(const coap::message& request) {
  decision d;
  auto found = find_route(request.code, request);
  if (!found.match) {
    d.answer = coap::make_error(
        request, found.error,
        found.error == coap::codes::not_found ? "no such resource" : "method not allowed here");
    return d;
  }
  d.route = found.match->matched;
  // RFC 7252 §5.10.4: an Accept the route cannot answer in is 4.06, before any upstream call.
  if (auto accept = request.accept(); accept && !route_answers_in(*d.route, *accept)) {
    d.answer = coap::make_error(request, coap::codes::not_acceptable,
                                "Accept " + std::to_string(*accept) + " not available here");
    return d;
  }
  d.params = std::move(found.match->params);

  // Procedures that need no CIK.
  switch (d.route->procedure) {
    case procedure::discovery:
      d.answer = coap::make_response(request, coap::codes::content);
      d.answer->add_uint_option(coap::opt::content_format, cf::link_format);
      d.answer->add_option(coap::opt::etag, well_known_core_etag());
      d.answer->set_payload(well_known_core());  // serialized once per route table
      return d;
    case procedure::timestamp:
      if (options_.local_timestamp) d.answer = render_timestamp(request, clock_.unix_seconds());
      return d;
    case procedure::rpc:  // the CIK travels inside the RPC body
    case procedure::activate:
      return d;
    default:
      break;
  }

  auto queries = request.queries();
  if (queries.empty()) {
    d.answer = unauthorized(request, "missing CIK (first Uri-Query)");
    return d;
  }
  auto cik = decode_cik(queries.front());
  if (!cik) {
    d.answer = unauthorized(request, "malformed CIK: 40 hex characters or 20 bytes");
    return d;
  }
  // A CIK upstream just refused is refused again without asking: repeating unknown or revoked
  // CIKs (spoofed traffic, a device with a stale key) costs no upstream call.
  if (rejected_ciks_.find(*cik, clock_.now())) {
    d.answer = unauthorized(request, "CIK not accepted upstream");
    return d;
  }
  d.cik = std::move(*cik);
  return d;
}

lane lane_of(procedure p) {
  switch (p) {
    case procedure::rpc:
    case procedure::activate:
      return lane::long_calls;
    default:
      return lane::short_calls;
  }
}

boost::asio::awaitable<coap::message> procedure_runner::async_handle(coap::message request) {
  auto decided = decide(request);
  if (decided.answer) co_return std::move(*decided.answer);
  co_return co_await async_run(request, std::move(decided));
}

boost::asio::awaitable<coap::message> procedure_runner::async_run(const coap::message& request,
                                                                  decision work) {
  const auto& params = work.params;
  switch (work.route->procedure) {
    case procedure::timestamp:
      co_return co_await async_timestamp(request);
    case procedure::rpc:
      co_return co_await async_rpc(request);
    case procedure::activate:
      co_return co_await async_simple(request, work.route->procedure,
                                      plan_activate(params[0], params[1], params[2]), render_text,
                                      lane_of(procedure::activate));
    default:
      break;
  }
  auto response = co_await async_with_cik(request, work.route->procedure, params, work.cik);
  if (response.code == coap::codes::unauthorized && options_.rejected_cik_ttl.count() > 0)
    rejected_ciks_.store(work.cik, true, clock_.now() + options_.rejected_cik_ttl);
  co_return response;
}

boost::asio::awaitable<coap::message> procedure_runner::async_with_cik(
    const coap::message& request, procedure p, const std::vector<std::string>& params,
    const std::string& cik) {
  switch (p) {
    case procedure::write:
      co_return co_await async_write(request, cik, params[0]);
    case procedure::read:
      co_return co_await async_read(request, cik, params[0]);
    case procedure::multi:
      co_return co_await async_multi(request, cik);
    case procedure::list_content:
      co_return co_await async_simple(request, p, plan_list_content(cik, params[0], params[1]),
                                      render_text);
    case procedure::content_info:
      co_return co_await async_simple(
          request, p, plan_content_info(cik, params[0], params[1], params[2]), render_text);
    case procedure::download:
      co_return co_await async_download(request, cik, params);
    default:
      co_return coap::make_error(request, coap::codes::internal_server_error, "unrouted");
  }
}

boost::asio::awaitable<procedure_runner::call_result> procedure_runner::async_call(
    const coap::message& request, upstream::request http, lane which) {
  if (!http.timeout) http.timeout = options_.upstream_timeout;
  auto& client = which == lane::long_calls ? long_client_ : client_;
  auto result = co_await client.async_send(std::move(http));
  if (!result) co_return failure_response(request, result.error(), options_.busy_max_age_s);
  co_return std::move(*result);
}

boost::asio::awaitable<std::variant<bool, coap::message>> procedure_runner::async_aliases_exist(
    const coap::message& request, const std::string& cik, std::span<const std::string> aliases) {
  // What the cache knows settles it without a call; the rest is asked in one RPC request.
  std::vector<std::string> unknown;
  for (const auto& alias : aliases) {
    auto known = aliases_.find(cik, alias, clock_.now());
    if (known == false) co_return false;
    if (!known && std::find(unknown.begin(), unknown.end(), alias) == unknown.end())
      unknown.push_back(alias);
  }
  if (unknown.empty()) co_return true;
  auto answer = co_await async_call(request, plan_lookups(cik, unknown));
  if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
  auto& response = std::get<upstream::response>(answer);
  const auto states = parse_lookups(response, unknown.size());
  bool all = true;
  for (std::size_t i = 0; i < unknown.size(); ++i) {
    switch (states[i]) {
      case alias_state::exists:
        aliases_.store(cik, unknown[i], true, clock_.now());
        break;
      case alias_state::missing:
        aliases_.store(cik, unknown[i], false, clock_.now());
        all = false;
        break;
      case alias_state::unauthorized:
        co_return unauthorized(request, "CIK not accepted upstream");
      case alias_state::unknown:
        if (response.status != 200)
          co_return error_response(request, procedure::read, response, clock_.unix_seconds());
        co_return coap::make_error(request, coap::codes::bad_gateway,
                                   "alias check failed upstream");
    }
  }
  co_return all;
}

boost::asio::awaitable<std::variant<bool, coap::message>> procedure_runner::async_alias_exists(
    const coap::message& request, const std::string& cik, const std::string& alias) {
  return async_aliases_exist(request, cik, std::span(&alias, 1));
}

boost::asio::awaitable<coap::message> procedure_runner::async_write(const coap::message& request,
                                                                    const std::string& cik,
                                                                    const std::string& alias) {
  auto value = write_value(request);
  if (auto* bad = std::get_if<coap::message>(&value)) co_return std::move(*bad);
  if (auto retry = writes_.admit(cik, std::span(&alias, 1), clock_.now()))
    co_return too_many_writes(request, *retry);

  // The data interface answers 204 to a write of a missing alias and writes nothing: check the
  // alias first (upstream-http-api.md, decision), so the device learns of it as 4.03.
  auto exists = co_await async_alias_exists(request, cik, alias);
  if (auto* answer = std::get_if<coap::message>(&exists)) co_return std::move(*answer);
  if (!std::get<bool>(exists)) co_return render_alias_missing(request);

  auto answer = co_await async_call(request, plan_write(cik, alias, std::get<std::string>(value)));
  if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
  auto& response = std::get<upstream::response>(answer);
  if (response.status == 204 || response.status == 200)
    co_return coap::make_response(request, coap::codes::changed);
  if (response.status == 401) aliases_.forget_cik(cik);
  co_return error_response(request, procedure::write, response, clock_.unix_seconds());
}

boost::asio::awaitable<coap::message> procedure_runner::async_read(const coap::message& request,
                                                                   const std::string& cik,
                                                                   const std::string& alias) {
  // An Observe registration reads the point with its time, so that the long-poll behind it
  // starts from that point and does not notify it again (runner/observed_points.hpp).
  const bool registering = points_ != nullptr && request.uint_option(coap::opt::observe) == 0u;
  // Planned apart from the co_await: g++ 12 mishandles a conditional's temporaries inside one.
  const std::string aliases[] = {alias};
  auto http = registering ? plan_latest_point(cik, alias) : plan_read(cik, aliases);
  auto answer = co_await async_call(request, std::move(http));
  if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
  auto& response = std::get<upstream::response>(answer);
  if (response.status == 200) {
    auto pairs = parse_read_body(response);
    if (!pairs)
      co_return coap::make_error(request, coap::codes::bad_gateway, "unreadable upstream answer");
    for (const auto& [name, value] : *pairs) {
      if (name != alias) continue;
      aliases_.store(cik, alias, true, clock_.now());
      if (registering) remember_point(cik, alias, response, value);
      co_return render_value(request, value, options_.read_max_age_s);
    }
  } else if (response.status != 204 && !(registering && response.status == 304)) {
    if (response.status == 401) aliases_.forget_cik(cik);
    co_return error_response(request, procedure::read, response, clock_.unix_seconds());
  }
  // No value: an empty dataport (2.05, empty payload) or no such alias (4.03).
  auto exists = co_await async_alias_exists(request, cik, alias);
  if (auto* other = std::get_if<coap::message>(&exists)) co_return std::move(*other);
  if (!std::get<bool>(exists)) co_return render_alias_missing(request);
  co_return render_value(request, "", options_.read_max_age_s);
}

void procedure_runner::remember_point(const std::string& cik, const std::string& alias,
                                      const upstream::response& response,
                                      const std::string& value) {
  auto header = response.find_header("Last-Modified");
  if (!header) return;
  if (auto time = http::parse_time_header(*header))
    points_->remember({cik, alias}, {*time, value}, clock_.now());
}

boost::asio::awaitable<coap::message> procedure_runner::async_multi(const coap::message& request,
                                                                    const std::string& cik) {
  auto planned = plan_multi(request, cik);
  if (auto* bad = std::get_if<coap::message>(&planned)) co_return std::move(*bad);
  auto& plan = std::get<multi_plan>(planned);
  // The data interface ignores aliases the CIK cannot reach (a null read, a dropped write): the
  // API document promises 4.03, so every alias is checked first and nothing is written if one
  // is missing.
  std::vector<std::string> written;
  for (const auto& w : plan.writes) written.push_back(w.first);
  if (!written.empty()) {
    if (auto retry = writes_.admit(cik, written, clock_.now()))
      co_return too_many_writes(request, *retry);
  }
  std::vector<std::string> names = plan.reads;
  names.insert(names.end(), written.begin(), written.end());
  auto exist = co_await async_aliases_exist(request, cik, names);
  if (auto* other = std::get_if<coap::message>(&exist)) co_return std::move(*other);
  if (!std::get<bool>(exist)) co_return render_alias_missing(request);
  auto answer = co_await async_call(request, plan.http);
  if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
  auto& response = std::get<upstream::response>(answer);
  if (response.status == 200 || response.status == 204)
    co_return render_multi(request, plan, response);
  co_return error_response(request, procedure::multi, response, clock_.unix_seconds());
}

boost::asio::awaitable<coap::message> procedure_runner::async_timestamp(
    const coap::message& request) {
  if (options_.local_timestamp) co_return render_timestamp(request, clock_.unix_seconds());
  auto answer = co_await async_call(request, plan_timestamp());
  if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
  auto& response = std::get<upstream::response>(answer);
  if (response.status != 200)
    co_return error_response(request, procedure::timestamp, response, clock_.unix_seconds());
  auto seconds = parse_timestamp(response.body);
  if (!seconds)
    co_return coap::make_error(request, coap::codes::bad_gateway, "unreadable upstream answer");
  co_return render_timestamp(request, *seconds);
}

boost::asio::awaitable<coap::message> procedure_runner::async_rpc(const coap::message& request) {
  auto planned = plan_rpc(request);
  if (auto* bad = std::get_if<coap::message>(&planned)) co_return std::move(*bad);
  auto& plan = std::get<rpc_plan>(planned);
  auto answer = co_await async_call(request, plan.http, lane_of(procedure::rpc));
  if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
  auto& response = std::get<upstream::response>(answer);
  if (response.status != 200)
    co_return error_response(request, procedure::rpc, response, clock_.unix_seconds());
  co_return render_rpc(request, plan, response);
}

boost::asio::awaitable<coap::message> procedure_runner::async_simple(
    const coap::message& request, procedure p, upstream::request http,
    coap::message (*render)(const coap::message&, const upstream::response&), lane which) {
  auto answer = co_await async_call(request, std::move(http), which);
  if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
  auto& response = std::get<upstream::response>(answer);
  if (response.status == 200 || response.status == 206) co_return render(request, response);
  co_return error_response(request, p, response, clock_.unix_seconds());
}

}  // namespace gw::runner
