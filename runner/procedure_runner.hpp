#pragma once
// Runs one CoAP request: finds its route, sequences the procedure's plans through the upstream
// client and renders the answer. The only coroutine code in translate/; everything it calls is
// a pure function.
#include <chrono>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "gateway/coap/message.hpp"
#include "gateway/core/clock.hpp"
#include "translate/alias_cache.hpp"
#include "translate/content_cache.hpp"
#include "translate/provision.hpp"
#include "translate/route_table.hpp"
#include "upstream/client.hpp"

namespace gw::translate {

struct dispatcher_options {
  alias_cache_options alias_cache;
  bool local_timestamp = false;   // timestamp.source: local
  std::size_t block_size = 1024;  // coap.block_size: the largest block Download Content sends
  std::size_t content_cache_bytes = 32 << 20;  // block.cache_bytes
  // Download Content asks upstream for this many bytes at a time (a multiple of 1024).
  std::size_t download_window = 16 * 1024;
  // How long one Get Content Info answer names the version Download Content serves. Upstream
  // timestamps have one-second resolution, so checking more often than once a second cannot
  // see more updates; it would only cost one info call per block (16-byte blocks: 18750 calls
  // for a 300 KB file).
  std::chrono::milliseconds content_info_ttl{1000};
  // upstream.timeout, set on every call so that a reload changes it for the next one.
  std::chrono::milliseconds upstream_timeout{10000};
};

struct dispatcher_clock {
  std::function<core::time_point()> steady = [] { return core::clock::now(); };
  std::function<std::int64_t()> unix_seconds;  // defaults to the system clock
};

class dispatcher {
 public:
  dispatcher(upstream::client& client, dispatcher_options options, dispatcher_clock clock = {});

  boost::asio::awaitable<coap::message> async_handle(coap::message request);
  // The procedure a request maps to, for logs and metrics; nullopt for no route.
  static std::optional<procedure> classify(const coap::message& request);

  void set_options(dispatcher_options options);

 private:
  using call_result = std::variant<upstream::response, coap::message>;

  boost::asio::awaitable<call_result> async_call(const coap::message& request,
                                                 upstream::request http);
  // Whether the alias exists for this CIK: from the cache, else through `lookup`. A message is
  // the answer to give instead (4.01, 5.02...).
  boost::asio::awaitable<std::variant<bool, coap::message>> async_alias_exists(
      const coap::message& request, const std::string& cik, const std::string& alias);

  boost::asio::awaitable<coap::message> async_write(const coap::message& request,
                                                    const std::string& cik,
                                                    const std::string& alias);
  boost::asio::awaitable<coap::message> async_read(const coap::message& request,
                                                   const std::string& cik,
                                                   const std::string& alias);
  boost::asio::awaitable<coap::message> async_multi(const coap::message& request,
                                                    const std::string& cik);
  boost::asio::awaitable<coap::message> async_timestamp(const coap::message& request);
  boost::asio::awaitable<coap::message> async_download(const coap::message& request,
                                                       const std::string& cik,
                                                       const std::vector<std::string>& params);
  boost::asio::awaitable<coap::message> async_rpc(const coap::message& request);
  // Procedures with one call whose 200 is rendered by `render` and the rest by the code table.
  boost::asio::awaitable<coap::message> async_simple(
      const coap::message& request, procedure p, upstream::request http,
      coap::message (*render)(const coap::message&, const upstream::response&));

  upstream::client& client_;
  dispatcher_options options_;
  dispatcher_clock clock_;
  alias_cache aliases_;
  content_cache content_;
  struct known_info {
    content_info info;
    core::time_point expires;
  };
  std::unordered_map<std::string, known_info> infos_;  // "<cik>\0<vendor>\0<model>\0<id>"
};

}  // namespace gw::translate
