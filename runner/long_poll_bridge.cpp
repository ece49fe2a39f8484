#include "runner/long_poll_bridge.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "http/http_date.hpp"
#include "log/log.hpp"
#include "translate/dataport.hpp"

namespace gw::runner {

namespace asio = boost::asio;

struct long_poll_bridge::poll {
  core::resource_key resource;
  std::unique_ptr<upstream::client> client;
  std::unique_ptr<timer> backoff;
  clock* time = nullptr;
  long_poll_options options;
  observe_sink sink;
  std::mt19937_64 rng;
  std::optional<observed_point> start;      // the point the registration showed, when known
  std::optional<observed_point> delivered;  // the last point notified, else `start`
  bool stopped = false;
};

std::chrono::milliseconds poll_backoff(const long_poll_options& o, unsigned attempt,
                                       std::uint64_t random) {
  auto d = o.backoff_initial;
  for (unsigned i = 1; i < attempt && d < o.backoff_max; ++i) d *= 2;
  d = std::min(d, o.backoff_max);
  const auto half = d.count() / 2;
  return std::chrono::milliseconds(
      half + static_cast<std::int64_t>(random % static_cast<std::uint64_t>(d.count() - half + 1)));
}

namespace {

coap::message value_content(std::string_view value) {
  coap::message m;
  m.code = coap::codes::content;
  m.add_uint_option(coap::opt::content_format, 0);
  m.set_payload(value);
  return m;
}

coap::message final_error(unsigned status) {
  coap::message m;
  m.code = status == 401 ? coap::codes::unauthorized : coap::codes::forbidden;
  m.set_payload(status == 401 ? "CIK no longer accepted upstream"
                              : "dataport no longer accessible");
  return m;
}

std::string describe(const core::resource_key& r) {
  return log::mask(r.cik) + " " + r.alias;
}

// One long-poll loop, until stopped or the resource is gone for good.
asio::awaitable<void> run_poll(std::shared_ptr<long_poll_bridge::poll> p) {
  // Anything written after the point the registration showed must be notified, and that point
  // not again.
  // Without it: one second earlier than now, because upstream timestamps have one-second
  // resolution: a write in the same second may show up once more, which is harmless; a lost one
  // would not be.
  std::int64_t since = p->start ? p->start->time : p->time->unix_seconds() - 1;
  std::string last_value = p->start ? p->start->value : std::string();
  p->delivered = observed_point{since, last_value};
  unsigned failures = 0;
  const auto timeout = std::min(p->options.poll_timeout, std::chrono::milliseconds(300000));
  while (!p->stopped) {
    auto request = translate::plan_long_poll(p->resource.cik, p->resource.alias, since, timeout);
    request.timeout = timeout + std::chrono::seconds(5);
    auto result = co_await p->client->async_send(std::move(request));
    if (p->stopped) co_return;

    std::string problem;
    if (result && result->status == 304) {  // nothing new within Request-Timeout: ask again
      failures = 0;
      continue;
    }
    if (result && (result->status == 401 || result->status == 403)) {
      p->sink.notify_final(p->resource, final_error(result->status));
      co_return;
    }
    if (result && result->status == 200) {
      auto header = result->find_header("Last-Modified");
      auto modified = header ? http::parse_time_header(*header)
                             : boost::system::result<std::int64_t>(http::error::bad_date);
      auto value = translate::parse_read_body(*result).value_or(
          std::vector<std::pair<std::string, std::string>>{});
      auto ours = std::find_if(value.begin(), value.end(),
                               [&](const auto& pair) { return pair.first == p->resource.alias; });
      // Upstream times have one-second resolution: a point in the same second as `since` is
      // new when it is not the one delivered last.
      if (modified && ours != value.end() &&
          (*modified > since || (*modified == since && ours->second != last_value))) {
        since = *modified;
        last_value = ours->second;
        p->delivered = observed_point{since, last_value};
        failures = 0;
        p->sink.notify(p->resource, value_content(ours->second));
        continue;
      }
      problem = "200 without the alias or a Last-Modified newer than " + std::to_string(since);
    } else {
      problem = result ? "HTTP " + std::to_string(result->status) : result.error().message();
    }
    // No progress: observers keep waiting while the poll backs off.
    ++failures;
    GW_LOG(
        warn, "observe",
        "long-poll for " + describe(p->resource) + " made no progress (" + problem + "), retrying");
    if (!co_await p->backoff->async_wait_for(poll_backoff(p->options, failures, p->rng()))) {
      if (p->stopped) co_return;
    }
  }
}

}  // namespace

long_poll_bridge::long_poll_bridge(asio::any_io_executor executor, clock& time,
                                   client_factory clients, long_poll_options options,
                                   observe_sink sink, std::uint64_t seed, observed_points* points)
    : executor_(std::move(executor)),
      clock_(time),
      clients_(std::move(clients)),
      options_(options),
      sink_(std::move(sink)),
      rng_(seed),
      points_(points) {}

long_poll_bridge::~long_poll_bridge() {
  close();
}

void long_poll_bridge::on_started(const core::resource_key& resource) {
  if (polls_.contains(resource)) return;
  auto client = clients_();
  if (!client) return;
  auto p = std::make_shared<poll>();
  p->resource = resource;
  p->client = std::move(client);
  p->backoff = clock_.make_timer(executor_);
  p->time = &clock_;
  p->options = options_;
  p->sink = sink_;
  p->rng.seed(rng_());
  if (points_ != nullptr) p->start = points_->find(resource, clock_.now());
  polls_.emplace(resource, p);
  GW_LOG(debug, "observe", "long-poll started for " + describe(resource));
  asio::co_spawn(executor_, run_poll(std::move(p)), asio::detached);
}

std::optional<observed_point> long_poll_bridge::delivered(
    const core::resource_key& resource) const {
  auto it = polls_.find(resource);
  if (it == polls_.end()) return std::nullopt;
  return it->second->delivered;
}

void long_poll_bridge::on_stopped(const core::resource_key& resource) {
  if (auto it = polls_.find(resource); it != polls_.end()) stop(it);
}

void long_poll_bridge::stop(std::map<core::resource_key, std::shared_ptr<poll>>::iterator it) {
  auto& p = *it->second;
  p.stopped = true;
  p.backoff->cancel();
  p.client->close();  // the request in flight ends with shutting_down; its connection closes
  GW_LOG(debug, "observe", "long-poll stopped for " + describe(p.resource));
  polls_.erase(it);
}

void long_poll_bridge::close() {
  while (!polls_.empty()) stop(polls_.begin());
}

}  // namespace gw::runner
