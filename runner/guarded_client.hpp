#pragma once
// An upstream::client that asks the breaker before each call and tells it the outcome. A refused
// call never reaches the upstream: it is answered as the upstream would when it wants a pause, a
// 503 with Retry-After, which the status table maps to 5.03 with Max-Age (RFC 7252 §5.9.3.4).
// Several guarded clients (the short- and the long-call pools) share one breaker.
#include <boost/asio/awaitable.hpp>

#include "runner/breaker.hpp"
#include "runner/clock.hpp"
#include "upstream/client.hpp"

namespace gw::runner {

class guarded_client final : public upstream::client {
 public:
  guarded_client(upstream::client& inner, breaker& gate, clock& time)
      : inner_(inner), gate_(gate), clock_(time) {}

  boost::asio::awaitable<upstream::result> async_send(upstream::request req) override;

 private:
  upstream::client& inner_;
  breaker& gate_;
  clock& clock_;
};

// Whether an outcome says the upstream is failing: no answer at all (but not our own refusals:
// a full queue, a shutdown, a request we could not send), or a 5xx that means the service or a
// gateway in front of it is down.
bool is_upstream_failure(const upstream::result& r);

}  // namespace gw::runner
