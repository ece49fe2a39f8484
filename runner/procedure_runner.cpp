#include "translate/dispatcher.hpp"

#include <chrono>

#include "translate/cik.hpp"
#include "translate/content_format.hpp"
#include "translate/dataport.hpp"
#include "translate/provision.hpp"
#include "translate/rpc.hpp"
#include "translate/status_map.hpp"
#include "translate/timestamp.hpp"

namespace gw::translate {

namespace {

coap::message unauthorized(const coap::message& request, std::string_view why) {
  return coap::make_error(request, coap::codes::unauthorized, why);
}

std::int64_t system_unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

dispatcher::dispatcher(upstream::client& client, dispatcher_options options, dispatcher_clock clock)
    : client_(client),
      options_(options),
      clock_(std::move(clock)),
      aliases_(options.alias_cache),
      content_(options.content_cache_bytes) {
  if (!clock_.unix_seconds) clock_.unix_seconds = system_unix_seconds;
}

void dispatcher::set_options(dispatcher_options options) {
  options_ = options;
  aliases_.set_options(options.alias_cache);
  content_.set_max_bytes(options.content_cache_bytes);
}

std::optional<procedure> dispatcher::classify(const coap::message& request) {
  auto found = find_route(request.code, request.path());
  if (!found.match) return std::nullopt;
  return found.match->matched->procedure;
}

boost::asio::awaitable<coap::message> dispatcher::async_handle(coap::message request) {
  auto found = find_route(request.code, request.path());
  if (!found.match) {
    co_return coap::make_error(
        request, found.error,
        found.error == coap::codes::not_found ? "no such resource" : "method not allowed here");
  }
  const auto& route = *found.match->matched;
  const auto& params = found.match->params;
  // RFC 7252 §5.10.4: an Accept the route cannot answer in is 4.06, before any upstream call.
  if (auto accept = request.accept(); accept && !route_answers_in(route, *accept))
    co_return coap::make_error(request, coap::codes::not_acceptable,
                               "Accept " + std::to_string(*accept) + " not available here");

  // Procedures that need no CIK.
  switch (route.procedure) {
    case procedure::discovery: {
      auto msg = coap::make_response(request, coap::codes::content);
      msg.add_uint_option(coap::opt::content_format, cf::link_format);
      msg.set_payload(well_known_core());
      co_return msg;
    }
    case procedure::timestamp:
      co_return co_await async_timestamp(request);
    case procedure::rpc:  // the CIK travels inside the RPC body
      co_return co_await async_rpc(request);
    case procedure::activate:
      co_return co_await async_simple(request, route.procedure,
                                      plan_activate(params[0], params[1], params[2]), render_text);
    default:
      break;
  }

  auto queries = request.queries();
  if (queries.empty()) co_return unauthorized(request, "missing CIK (first Uri-Query)");
  auto cik = decode_cik(queries.front());
  if (!cik) co_return unauthorized(request, "malformed CIK: 40 hex characters or 20 bytes");

  switch (route.procedure) {
    case procedure::write:
      co_return co_await async_write(request, *cik, params[0]);
    case procedure::read:
      co_return co_await async_read(request, *cik, params[0]);
    case procedure::multi:
      co_return co_await async_multi(request, *cik);
    case procedure::list_content:
      co_return co_await async_simple(request, route.procedure,
                                      plan_list_content(*cik, params[0], params[1]), render_text);
    case procedure::content_info:
      co_return co_await async_simple(request, route.procedure,
                                      plan_content_info(*cik, params[0], params[1], params[2]),
                                      render_text);
    case procedure::download:
      co_return co_await async_download(request, *cik, params);
    default:
      co_return coap::make_error(request, coap::codes::internal_server_error, "unrouted");
  }
}

boost::asio::awaitable<dispatcher::call_result> dispatcher::async_call(const coap::message& request,
                                                                       upstream::request http) {
  if (!http.timeout) http.timeout = options_.upstream_timeout;
  auto result = co_await client_.async_send(std::move(http));
  if (!result) co_return failure_response(request, result.error());
  co_return std::move(*result);
}

boost::asio::awaitable<std::variant<bool, coap::message>> dispatcher::async_alias_exists(
    const coap::message& request, const std::string& cik, const std::string& alias) {
  if (auto known = aliases_.find(cik, alias, clock_.steady())) co_return *known;
  auto answer = co_await async_call(request, plan_lookup(cik, alias));
  if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
  auto& response = std::get<upstream::response>(answer);
  switch (parse_lookup(response)) {
    case alias_state::exists:
      aliases_.store(cik, alias, true, clock_.steady());
      co_return true;
    case alias_state::missing:
      aliases_.store(cik, alias, false, clock_.steady());
      co_return false;
    case alias_state::unauthorized:
      co_return unauthorized(request, "CIK not accepted upstream");
    case alias_state::unknown:
      break;
  }
  if (response.status != 200)
    co_return error_response(request, procedure::read, response, clock_.unix_seconds());
  co_return coap::make_error(request, coap::codes::bad_gateway, "alias check failed upstream");
}

boost::asio::awaitable<coap::message> dispatcher::async_write(const coap::message& request,
                                                              const std::string& cik,
                                                              const std::string& alias) {
  auto value = write_value(request);
  if (auto* bad = std::get_if<coap::message>(&value)) co_return std::move(*bad);

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

boost::asio::awaitable<coap::message> dispatcher::async_read(const coap::message& request,
                                                             const std::string& cik,
                                                             const std::string& alias) {
  const std::string aliases[] = {alias};
  auto answer = co_await async_call(request, plan_read(cik, aliases));
  if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
  auto& response = std::get<upstream::response>(answer);
  if (response.status == 200) {
    auto pairs = parse_read_body(response);
    if (!pairs)
      co_return coap::make_error(request, coap::codes::bad_gateway, "unreadable upstream answer");
    for (const auto& [name, value] : *pairs) {
      if (name != alias) continue;
      aliases_.store(cik, alias, true, clock_.steady());
      co_return render_value(request, value);
    }
  } else if (response.status != 204) {
    if (response.status == 401) aliases_.forget_cik(cik);
    co_return error_response(request, procedure::read, response, clock_.unix_seconds());
  }
  // No value: an empty dataport (2.05, empty payload) or no such alias (4.03).
  auto exists = co_await async_alias_exists(request, cik, alias);
  if (auto* other = std::get_if<coap::message>(&exists)) co_return std::move(*other);
  if (!std::get<bool>(exists)) co_return render_alias_missing(request);
  co_return render_value(request, "");
}

boost::asio::awaitable<coap::message> dispatcher::async_multi(const coap::message& request,
                                                              const std::string& cik) {
  auto planned = plan_multi(request, cik);
  if (auto* bad = std::get_if<coap::message>(&planned)) co_return std::move(*bad);
  auto& plan = std::get<multi_plan>(planned);
  auto answer = co_await async_call(request, plan.http);
  if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
  auto& response = std::get<upstream::response>(answer);
  if (response.status == 200 || response.status == 204)
    co_return render_multi(request, plan, response);
  co_return error_response(request, procedure::multi, response, clock_.unix_seconds());
}

boost::asio::awaitable<coap::message> dispatcher::async_timestamp(const coap::message& request) {
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

boost::asio::awaitable<coap::message> dispatcher::async_download(
    const coap::message& request, const std::string& cik, const std::vector<std::string>& params) {
  const auto& vendor = params[0];
  const auto& model = params[1];
  const auto& id = params[2];
  // The info call authorises the CIK and names the content's version: the cache keys on it.
  const auto now = clock_.steady();
  const auto info_key = cik + '\0' + vendor + '\0' + model + '\0' + id;
  std::optional<content_info> info;
  if (auto known = infos_.find(info_key); known != infos_.end() && known->second.expires > now) {
    info = known->second.info;
  } else {
    auto answer = co_await async_call(request, plan_content_info(cik, vendor, model, id));
    if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
    auto& info_response = std::get<upstream::response>(answer);
    if (info_response.status != 200)
      co_return error_response(request, procedure::download, info_response, clock_.unix_seconds());
    info = parse_content_info(info_response.body);
    if (!info)
      co_return coap::make_error(request, coap::codes::bad_gateway, "unreadable content info");
    if (infos_.size() >= 10000)
      std::erase_if(infos_, [now](auto& e) { return e.second.expires <= now; });
    if (infos_.size() >= 10000) infos_.clear();
    infos_[info_key] = known_info{*info, now + options_.content_info_ttl};
  }

  // Early negotiation (RFC 7959 §2.4): the client's SZX, never above ours; the byte offset it
  // asked for is kept when it asked for larger blocks than we send.
  const auto server_szx = coap::szx_for_size(options_.block_size).value_or(6);
  std::optional<coap::block_value> asked;
  if (auto* opt = request.find(coap::opt::block2)) asked = coap::decode_block(opt->value);
  coap::block_value block{0, false, server_szx};
  if (asked) {
    block.szx = std::min(asked->szx, server_szx);
    block.num = static_cast<std::uint32_t>(asked->offset() / block.size());
  }
  const bool blockwise = asked.has_value() || info->size > block.size();
  auto range = coap::block_slice(info->size, block);
  if (range.past_end)
    co_return coap::make_error(request, coap::codes::bad_option, "block past the end");
  if (range.length == 0)
    co_return render_content(
        request, *info, blockwise ? std::optional(content_block{block, false}) : std::nullopt, "");

  const auto window = options_.download_window;
  const std::uint64_t first = range.offset / window * window;
  const std::uint64_t last = std::min<std::uint64_t>(info->size, first + window) - 1;
  const auto key = vendor + '\0' + model + '\0' + id + '\0' + std::to_string(info->updated) + '\0' +
                   std::to_string(info->size) + '\0' + std::to_string(first);
  const std::string* bytes = content_.find(key);
  std::string fetched;
  if (!bytes) {
    auto got =
        co_await async_call(request, plan_download_range(cik, vendor, model, id, first, last));
    if (auto* failed = std::get_if<coap::message>(&got)) co_return std::move(*failed);
    auto& r = std::get<upstream::response>(got);
    if (r.status == 200 && r.body.size() == info->size) {
      fetched = r.body.substr(first, last - first + 1);  // the server ignored Range
    } else if (r.status == 206 && r.body.size() == last - first + 1) {
      fetched = std::move(r.body);
    } else if (r.status == 200 || r.status == 206) {
      co_return coap::make_error(request, coap::codes::bad_gateway,
                                 "content changed size during the download");
    } else {
      co_return error_response(request, procedure::download, r, clock_.unix_seconds());
    }
    content_.store(key, fetched);
    bytes = &fetched;
  }
  auto slice = std::string_view(*bytes).substr(range.offset - first, range.length);
  co_return render_content(
      request, *info, blockwise ? std::optional(content_block{block, range.more}) : std::nullopt,
      slice);
}

boost::asio::awaitable<coap::message> dispatcher::async_rpc(const coap::message& request) {
  auto planned = plan_rpc(request);
  if (auto* bad = std::get_if<coap::message>(&planned)) co_return std::move(*bad);
  auto& plan = std::get<rpc_plan>(planned);
  auto answer = co_await async_call(request, plan.http);
  if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
  auto& response = std::get<upstream::response>(answer);
  if (response.status != 200)
    co_return error_response(request, procedure::rpc, response, clock_.unix_seconds());
  co_return render_rpc(request, plan, response);
}

boost::asio::awaitable<coap::message> dispatcher::async_simple(
    const coap::message& request, procedure p, upstream::request http,
    coap::message (*render)(const coap::message&, const upstream::response&)) {
  auto answer = co_await async_call(request, std::move(http));
  if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
  auto& response = std::get<upstream::response>(answer);
  if (response.status == 200 || response.status == 206) co_return render(request, response);
  co_return error_response(request, p, response, clock_.unix_seconds());
}

}  // namespace gw::translate
