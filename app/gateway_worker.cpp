#include "app/gateway_worker.hpp"

#include <chrono>
#include <string>

#include "app/settings.hpp"
#include "log/log.hpp"
#include "metrics/metrics.hpp"
#include "translate/cik.hpp"

namespace gw::app {

namespace asio = boost::asio;

namespace {

std::unique_ptr<upstream::http_client> make_client(asio::any_io_executor executor,
                                                   const upstream::client_options& options) {
  // The options were checked at start (run_gateway's probe); a failure here is a bug.
  return upstream::make_http_client(std::move(executor), options).value();
}

void log_access(const coap::message& request, const coap::message& response,
                std::optional<translate::procedure> proc, const server::request_context& ctx,
                std::chrono::steady_clock::duration elapsed) {
  auto queries = request.queries();
  auto cik = queries.empty() ? std::nullopt : translate::decode_cik(queries.front());
  auto ms = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count() / 1000.0;
  GW_LOG(info, "access",
         ctx.peer.to_string() + " " + std::string(proc ? translate::to_string(*proc) : "none") +
             " " + response.code.to_string() + " " + std::to_string(ms) + "ms" +
             (cik ? " cik=" + log::mask(*cik) : "") +
             // coaps: who the handshake authenticated (a PSK identity or certificate subject).
             (ctx.identity.empty() ? "" : " dtls=" + ctx.identity));
}

}  // namespace

gateway_worker::gateway_worker(asio::any_io_executor executor, const conf::config& config,
                               metrics::shard& shard, server::notifier& notifier,
                               std::uint64_t seed)
    : executor_(executor),
      shard_(shard),
      poll_client_options_(long_poll_client_options_from(config)),
      access_log_(config.log.access),
      busy_max_age_s_(runner_options_from(config).busy_max_age_s),
      admission_{
          runner::upstream_admission(admission_options_from(config, runner::lane::short_calls)),
          runner::upstream_admission(admission_options_from(config, runner::lane::long_calls))},
      address_tier_(endpoint_config_from(config).limits),
      client_(make_client(executor, client_options_from(config))),
      long_client_(make_client(executor, long_call_client_options_from(config))),
      metered_(*client_, shard),
      long_metered_(*long_client_, shard),
      breaker_(breaker_options_from(config), seed),
      guarded_(metered_, breaker_, runner::system_clock()),
      long_guarded_(long_metered_, breaker_, runner::system_clock()),
      runner_(guarded_, runner_options_from(config), runner::system_clock(), &points_,
              &long_guarded_),
      bridge_(
          executor, runner::system_clock(), [this] { return make_poll_client(); },
          long_poll_options_from(config),
          runner::observe_sink{[&notifier](const core::resource_key& r, coap::message m) {
                                 notifier.notify(r, std::move(m));
                               },
                               [&notifier](const core::resource_key& r, coap::message m) {
                                 notifier.notify_final(r, std::move(m));
                               }},
          seed, &points_) {}

gateway_worker::~gateway_worker() {
  shutdown();
}

std::unique_ptr<upstream::client> gateway_worker::make_poll_client() const {
  auto client = upstream::make_http_client(executor_, poll_client_options_);
  if (!client) {
    GW_LOG(error, "observe", "cannot create a long-poll client: " + client.error().message());
    return nullptr;
  }
  return std::move(*client);
}

server::worker_services::handling gateway_worker::handle(coap::message request,
                                                         const server::request_context& ctx) {
  const auto start = std::chrono::steady_clock::now();
  auto decided = runner_.decide(request);
  if (decided.answer) {
    std::optional<translate::procedure> proc;
    if (decided.route) proc = decided.route->procedure;
    finish(request, *decided.answer, proc, ctx, start);
    return std::move(*decided.answer);
  }
  // Issue #13: a fair share of the lane per source address, and safe requests shed first when
  // it fills (runner/upstream_admission.hpp). The refusal goes back through the endpoint like
  // any answer, so for an unsafe request it stays in the dedup cache for the dedup window
  // (core::endpoint::handle_response -> cache_reply; dedup_cache::set_reply keeps an unsafe
  // entry's expiry): a retransmission gets this 5.03 again, never a late execution.
  const auto proc = decided.route->procedure;
  runner::shed_reason why{};
  // A trusted proxy's devices all have its address: no share then (coap.trusted_proxies).
  std::optional<core::address_key> source;
  if (address_tier_.address_tier_applies(ctx.peer)) source = core::address_of(ctx.peer);
  auto admitted = admission(runner::lane_of(proc)).admit(source, coap::is_safe(request.code), &why);
  if (!admitted) {
    shard_.add(metrics::upstream_shed_total, {runner::to_string(why)});
    auto busy = coap::make_unavailable(request, busy_max_age_s_,
                                       why == runner::shed_reason::source_share
                                           ? "upstream busy: too many requests from this address"
                                           : "upstream busy");
    finish(request, busy, proc, ctx, start);
    return busy;
  }
  return async_run(std::move(request), std::move(decided), ctx, start, std::move(*admitted));
}

runner::upstream_admission& gateway_worker::admission(runner::lane which) {
  return admission_[which == runner::lane::long_calls ? 1 : 0];
}

asio::awaitable<coap::message> gateway_worker::async_handle(coap::message request,
                                                            server::request_context ctx) {
  auto handling = handle(std::move(request), ctx);
  if (auto* answer = std::get_if<coap::message>(&handling)) co_return std::move(*answer);
  co_return co_await std::move(std::get<asio::awaitable<coap::message>>(handling));
}

asio::awaitable<coap::message> gateway_worker::async_run(
    coap::message request, runner::procedure_runner::decision work, server::request_context ctx,
    std::chrono::steady_clock::time_point start, runner::upstream_admission::ticket admitted) {
  const auto proc = work.route->procedure;
  auto response = co_await runner_.async_run(request, std::move(work));
  { auto released = std::move(admitted); }  // the call is over: its slot goes back now
  finish(request, response, proc, ctx, start);
  co_return response;
}

void gateway_worker::finish(const coap::message& request, const coap::message& response,
                            std::optional<translate::procedure> proc,
                            const server::request_context& ctx,
                            std::chrono::steady_clock::time_point start) {
  const auto elapsed = std::chrono::steady_clock::now() - start;
  record(response, proc, elapsed);
  if (access_log_) log_access(request, response, proc, ctx, elapsed);
  if (!retired_.empty()) sweep_retired();
}

void gateway_worker::record(const coap::message& response, std::optional<translate::procedure> proc,
                            std::chrono::steady_clock::duration elapsed) {
  shard_.add(metrics::requests_total,
             {proc ? translate::to_string(*proc) : "none", response.code.to_string()});
  shard_.observe(metrics::request_duration_seconds, elapsed);
  const auto pool = client_->stats();
  const auto long_pool = long_client_->stats();
  shard_.set(metrics::upstream_connections_open, static_cast<double>(pool.open + long_pool.open));
  shard_.set_total(metrics::upstream_queue_waits_total,
                   pool.queue_waits_total + long_pool.queue_waits_total);
}

void gateway_worker::on_observe(const core::observe_event& event) {
  if (event.what == core::observe_event::kind::started)
    bridge_.on_started(event.resource);
  else
    bridge_.on_stopped(event.resource);
  shard_.set(metrics::longpolls_active, static_cast<double>(bridge_.active_polls()));
}

void gateway_worker::on_snapshot(core::worker_snapshot& snapshot) {
  auto& time = runner::system_clock();
  for (auto& r : snapshot.resources) {
    auto point = bridge_.delivered(r.resource);
    if (!point) point = points_.find(r.resource, time.now());
    // Nothing known yet (the poll's first answer is still out): what the poll would have asked
    // from, so that a value written while the gateway is down is still notified after it.
    if (!point) point = runner::observed_point{time.unix_seconds() - 1, {}};
    r.point_time = point->time;
    r.point_value = point->value;
  }
}

void gateway_worker::on_restore(const core::worker_snapshot& snapshot) {
  // The polls that the restored relations start resume from these points, so what was written
  // while the gateway was down is notified and what was already notified is not again.
  auto& time = runner::system_clock();
  for (const auto& r : snapshot.resources) {
    if (r.point_time)
      points_.remember(r.resource, runner::observed_point{*r.point_time, r.point_value},
                       time.now());
  }
}

void gateway_worker::shutdown() {
  bridge_.close();
  client_->close();
  long_client_->close();
  for (auto& c : retired_) c->close();
}

void gateway_worker::apply(const conf::config& config, bool new_pool) {
  if (new_pool) swap_clients(config);
  runner_.set_options(runner_options_from(config));
  busy_max_age_s_ = runner_options_from(config).busy_max_age_s;
  admission(runner::lane::short_calls)
      .set_options(admission_options_from(config, runner::lane::short_calls));
  admission(runner::lane::long_calls)
      .set_options(admission_options_from(config, runner::lane::long_calls));
  address_tier_.set_options(endpoint_config_from(config).limits);
  breaker_.set_options(breaker_options_from(config));
  bridge_.set_options(long_poll_options_from(config));
  poll_client_options_ = long_poll_client_options_from(config);
  access_log_ = config.log.access;
}

void gateway_worker::swap_clients(const conf::config& config) {
  auto fresh = upstream::make_http_client(executor_, client_options_from(config));
  auto fresh_long = upstream::make_http_client(executor_, long_call_client_options_from(config));
  if (!fresh || !fresh_long) {
    GW_LOG(error, "gateway",
           "reload: upstream client: " + (fresh ? fresh_long.error() : fresh.error()).message());
    return;
  }
  retired_.push_back(std::move(client_));
  retired_.push_back(std::move(long_client_));
  client_ = std::move(*fresh);
  long_client_ = std::move(*fresh_long);
  metered_.set_inner(*client_);
  long_metered_.set_inner(*long_client_);
}

void gateway_worker::sweep_retired() {
  std::erase_if(retired_, [](const auto& c) {
    if (c->stats().in_flight != 0) return false;
    c->close();
    return true;
  });
}

}  // namespace gw::app
