#include "translate/observe_bridge.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "log/log.hpp"
#include "translate/dataport.hpp"

namespace gw::translate {

namespace asio = boost::asio;

// One long-poll loop. Owned by the bridge and by its own coroutine, so stopping it while a
// request is in flight is safe: the coroutine sees `stopped` when it resumes.
struct observe_bridge::poll {
  core::resource_key resource;  // the CIK as lower-case hex, as upstream wants it
  std::unique_ptr<upstream::http_client> client;
  asio::steady_timer backoff;
  bool stopped = false;

  explicit poll(asio::any_io_executor ex) : backoff(ex) {}
};

std::chrono::milliseconds poll_backoff(const observe_bridge_options& o, unsigned attempt) {
  auto d = o.backoff_initial;
  for (unsigned i = 1; i < attempt && d < o.backoff_max; ++i) d *= 2;
  return std::min(d, o.backoff_max);
}

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

coap::message value_content(std::string_view value) {
  coap::message m;
  m.code = coap::codes::content;
  m.add_uint_option(coap::opt::content_format, 0);
  m.set_payload(value);
  return m;
}

asio::awaitable<void> run_poll(std::shared_ptr<observe_bridge::poll> p,
                               observe_bridge_options options, observe_sink sink);

}  // namespace

observe_bridge::observe_bridge(asio::any_io_executor executor, observe_bridge_options options,
                               observe_sink sink)
    : executor_(std::move(executor)), options_(std::move(options)), sink_(std::move(sink)) {}

observe_bridge::~observe_bridge() {
  close();
}

void observe_bridge::on_started(const core::resource_key& resource, const coap::message&) {
  auto& p = polls_[resource];
  if (p) return;  // already watched
  p = std::make_shared<poll>(executor_);
  p->resource = resource;
  auto client_options = options_.upstream;
  client_options.max_connections = 1;
  client_options.max_queue = 1;
  auto client = upstream::make_http_client(executor_, client_options);
  if (!client) {
    GW_LOG(error, "observe", "cannot create a long-poll client: " + client.error().message());
    polls_.erase(resource);
    return;
  }
  p->client = std::move(*client);
  GW_LOG(debug, "observe",
         "long-poll started for " + log::mask(p->resource.cik) + " " + p->resource.alias);
  asio::co_spawn(executor_, run_poll(p, options_, sink_), asio::detached);
}

void observe_bridge::on_stopped(const core::resource_key& resource) {
  stop(resource);
}

void observe_bridge::stop(const core::resource_key& resource) {
  auto it = polls_.find(resource);
  if (it == polls_.end()) return;
  auto& p = *it->second;
  p.stopped = true;
  p.backoff.cancel();
  p.client->close();  // the request in flight ends with shutting_down; its connection closes
  GW_LOG(debug, "observe",
         "long-poll stopped for " + log::mask(p.resource.cik) + " " + p.resource.alias);
  polls_.erase(it);
}

void observe_bridge::close() {
  while (!polls_.empty()) stop(polls_.begin()->first);
}

namespace {

asio::awaitable<void> run_poll(std::shared_ptr<observe_bridge::poll> p,
                               observe_bridge_options options, observe_sink sink) {
  // The registration's read showed the value as of now; anything written after it must be
  // notified. One second earlier, because upstream timestamps have one-second resolution: a
  // write in the same second may show up once more, which is harmless; a lost one would not be.
  std::string since = std::to_string(unix_now() - 1);
  unsigned failures = 0;
  const auto timeout = std::min(options.poll_timeout, std::chrono::milliseconds(300000));
  while (!p->stopped) {
    const std::string aliases[] = {p->resource.alias};
    auto request = plan_read(p->resource.cik, aliases);
    request.headers.push_back({"Request-Timeout", std::to_string(timeout.count())});
    request.headers.push_back({"If-Modified-Since", since});
    request.timeout = timeout + std::chrono::seconds(5);
    auto result = co_await p->client->async_send(std::move(request));
    if (p->stopped) co_return;

    std::optional<coap::message> final_error;
    if (result && result->status == 200) {
      failures = 0;
      if (auto modified = result->find_header("Last-Modified")) since = std::string(*modified);
      auto pairs = parse_read_body(*result);
      if (pairs) {
        for (const auto& [name, value] : *pairs) {
          if (name != p->resource.alias) continue;
          sink.notify(p->resource, value_content(value));
        }
      }
      continue;
    }
    if (result && result->status == 304) {  // nothing new within Request-Timeout: ask again
      failures = 0;
      continue;
    }
    if (result && (result->status == 401 || result->status == 403)) {
      coap::message error;
      error.code = result->status == 401 ? coap::codes::unauthorized : coap::codes::forbidden;
      error.set_payload(result->status == 401 ? "CIK no longer accepted upstream"
                                              : "dataport no longer accessible");
      sink.notify_final(p->resource, error);
      co_return;
    }
    // 5xx, other statuses, connection errors: observers keep waiting while we back off.
    ++failures;
    GW_LOG(warn, "observe",
           "long-poll for " + log::mask(p->resource.cik) + " " + p->resource.alias + " failed (" +
               (result ? "HTTP " + std::to_string(result->status) : result.error().message()) +
               "), retrying");
    p->backoff.expires_after(poll_backoff(options, failures));
    co_await p->backoff.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace

}  // namespace gw::translate
