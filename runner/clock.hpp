#pragma once
// Time for the runner, injected: the steady clock its caches expire by, the Unix time its
// answers carry, and timers its coroutines wait on. Production passes system_clock(); tests pass
// a virtual clock and move time by hand, so an hour of long-poll backoff runs in a millisecond.
#include <cstdint>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "gateway/core/clock.hpp"

namespace gw::runner {

// One waitable deadline. A coroutine waits on it; its owner may cancel the wait.
class timer {
 public:
  virtual ~timer() = default;
  // True when `d` passed, false when cancel() ended the wait first.
  virtual boost::asio::awaitable<bool> async_wait_for(core::duration d) = 0;
  virtual void cancel() = 0;
};

class clock {
 public:
  virtual ~clock() = default;
  virtual core::time_point now() const = 0;
  virtual std::int64_t unix_seconds() const = 0;
  // A timer on `executor`; it must not outlive the executor's io_context.
  virtual std::unique_ptr<timer> make_timer(boost::asio::any_io_executor executor) = 0;
};

// The real clocks (steady and system) and Asio steady timers. Stateless: one is shared.
clock& system_clock();

}  // namespace gw::runner
