#pragma once
// Observed Read bridged to upstream long-polling: one long-poll per observed resource (CIK,
// alias), shared by all its observers, started with the first observer and stopped with the
// last (the endpoint's observe events say when). Each poll has its own client from the factory
// (production: a one-connection HTTP client), so polls never take connections from reads and
// writes, and stopping a poll closes its connection.
//
// Progress is the alias's value with a Last-Modified newer than the `since` the poll asked with
// (or in the same second, when it is not the value delivered last: upstream times have
// one-second resolution). A poll that makes none (errors, or a 200 without the alias or a usable
// Last-Modified) backs off, doubling and capped, at a random point in the upper half of the
// interval so that thousands of polls that failed together do not retry together.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>

#include <boost/asio/any_io_executor.hpp>

#include "gateway/coap/message.hpp"
#include "gateway/core/resource_key.hpp"
#include "runner/clock.hpp"
#include "runner/observed_points.hpp"
#include "upstream/client.hpp"

namespace gw::runner {

struct long_poll_options {
  std::chrono::milliseconds poll_timeout{60000};  // Request-Timeout, at most 300000
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{60000};
};

// Where notifications go: the worker's endpoint.
struct observe_sink {
  std::function<void(const core::resource_key&, coap::message content)> notify;
  // The resource is gone for good (401/403 upstream): a last answer without Observe.
  std::function<void(const core::resource_key&, coap::message content)> notify_final;
};

// A client for one poll; nullptr when none can be made (logged by the factory).
using client_factory = std::function<std::unique_ptr<upstream::client>()>;

// The wait before the n-th consecutive retry (n from 1): min(initial * 2^(n-1), max), then a
// point in [half, whole] of it chosen by `random`.
std::chrono::milliseconds poll_backoff(const long_poll_options& o, unsigned attempt,
                                       std::uint64_t random);

class long_poll_bridge {
 public:
  // `points`, when given, holds the point each registration showed: a poll starts from it.
  long_poll_bridge(boost::asio::any_io_executor executor, clock& time, client_factory clients,
                   long_poll_options options, observe_sink sink, std::uint64_t seed,
                   observed_points* points = nullptr);
  ~long_poll_bridge();
  long_poll_bridge(const long_poll_bridge&) = delete;
  long_poll_bridge& operator=(const long_poll_bridge&) = delete;

  void on_started(const core::resource_key& resource);
  void on_stopped(const core::resource_key& resource);
  // Shutdown: every poll stops and its connection closes.
  void close();

  std::size_t active_polls() const { return polls_.size(); }
  // The point the poll of `resource` counts as delivered (what it polls after): the last one
  // it notified, else the one it started from. A restart resumes from it (observed_points).
  std::optional<observed_point> delivered(const core::resource_key& resource) const;
  void set_options(const long_poll_options& options) { options_ = options; }

  // One poll's state, shared by the bridge and the poll's coroutine: the coroutine may resume
  // after the bridge is gone, so it holds everything it touches.
  struct poll;

 private:
  void stop(std::map<core::resource_key, std::shared_ptr<poll>>::iterator it);

  boost::asio::any_io_executor executor_;
  clock& clock_;
  client_factory clients_;
  long_poll_options options_;
  observe_sink sink_;
  std::mt19937_64 rng_;
  observed_points* points_;
  std::map<core::resource_key, std::shared_ptr<poll>> polls_;
};

}  // namespace gw::runner
