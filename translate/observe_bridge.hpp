#pragma once
// Observed Read bridged to upstream long-polling: one long-poll per observed (CIK, alias), shared
// by every observer of it, started with the first observer and closed with the last. Each poll
// has its own one-connection client, so polls never take connections from reads and writes
// (observe.max_polls bounds them) and stopping a poll closes its connection.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "gateway/coap/message.hpp"
#include "gateway/core/resource_key.hpp"
#include "upstream/http_client.hpp"

namespace gw::translate {

struct observe_bridge_options {
  upstream::client_options upstream;              // base URL, TLS, connect timeout
  std::chrono::milliseconds poll_timeout{60000};  // Request-Timeout, at most 300000
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{60000};
};

// Where notifications go: the worker's endpoint (server::notifier).
struct observe_sink {
  std::function<void(const core::resource_key& resource, coap::message content)> notify;
  std::function<void(const core::resource_key& resource, coap::message content)> notify_final;
};

// Backoff before the n-th consecutive retry (n from 1): doubling from `initial`, capped.
std::chrono::milliseconds poll_backoff(const observe_bridge_options& o, unsigned attempt);

class observe_bridge {
 public:
  observe_bridge(boost::asio::any_io_executor executor, observe_bridge_options options,
                 observe_sink sink);
  ~observe_bridge();

  // The endpoint's observe events. `resource` names the dataport (translate::observable_resource
  // built it); `request` is the registering GET /1a/<alias>?<CIK>.
  void on_started(const core::resource_key& resource, const coap::message& request);
  void on_stopped(const core::resource_key& resource);
  // Shutdown: every poll stops and its connection closes.
  void close();

  std::size_t active_polls() const { return polls_.size(); }
  void set_options(const observe_bridge_options& options) { options_ = options; }

  struct poll;  // defined in the .cpp; shared by the bridge and the poll's coroutine

 private:
  void stop(const core::resource_key& resource);

  boost::asio::any_io_executor executor_;
  observe_bridge_options options_;
  observe_sink sink_;
  // One running poll per observed (CIK, alias).
  std::map<core::resource_key, std::shared_ptr<poll>> polls_;
};

}  // namespace gw::translate
