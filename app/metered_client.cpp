#include "app/metered_client.hpp"

#include <chrono>
#include <string>

#include "metrics/metrics.hpp"

namespace gw::app {
namespace {

// Short, bounded label values: the error's enumerator name, never its message.
std::string status_label(const upstream::result& r) {
  if (r) return std::to_string(r->status);
  if (r.error().category() != upstream::error_category()) return "io_error";
  switch (static_cast<upstream::error>(r.error().value())) {
    case upstream::error::connect_failed:
      return "connect_failed";
    case upstream::error::tls_failed:
      return "tls_failed";
    case upstream::error::timed_out:
      return "timed_out";
    case upstream::error::protocol_error:
      return "protocol_error";
    case upstream::error::connection_closed:
      return "connection_closed";
    case upstream::error::queue_full:
      return "queue_full";
    case upstream::error::shutting_down:
      return "shutting_down";
    default:
      return "other_error";
  }
}

}  // namespace

boost::asio::awaitable<upstream::result> metered_client::async_send(upstream::request req) {
  const auto start = std::chrono::steady_clock::now();
  auto result = co_await inner_->async_send(std::move(req));
  shard_.observe(metrics::upstream_duration_seconds, std::chrono::steady_clock::now() - start);
  const auto status = status_label(result);
  shard_.add(metrics::upstream_requests_total, {status});
  co_return result;
}

}  // namespace gw::app
