#include "runner/guarded_client.hpp"

#include <string>

#include "translate/status_map.hpp"

namespace gw::runner {

bool is_upstream_failure(const upstream::result& r) {
  if (!r) {
    const auto ec = r.error();
    return ec != upstream::error::queue_full && ec != upstream::error::shutting_down &&
           ec != upstream::error::bad_request;
  }
  return r->status == 500 || r->status == 502 || r->status == 503 || r->status == 504;
}

boost::asio::awaitable<upstream::result> guarded_client::async_send(upstream::request req) {
  if (auto wait = gate_.refuse(clock_.now())) {
    const auto seconds = std::chrono::ceil<std::chrono::seconds>(*wait).count();
    upstream::response refused;
    refused.status = 503;
    refused.headers.push_back({"Retry-After", std::to_string(seconds)});
    refused.body = "upstream failing: not asked";
    co_return refused;
  }
  auto result = co_await inner_.async_send(std::move(req));
  std::optional<std::chrono::seconds> retry_after;
  if (result && result->status == 503) {
    if (auto s = translate::retry_after_seconds(*result, clock_.unix_seconds()))
      retry_after = std::chrono::seconds(*s);
  }
  gate_.on_result(is_upstream_failure(result), retry_after, clock_.now());
  co_return result;
}

}  // namespace gw::runner
