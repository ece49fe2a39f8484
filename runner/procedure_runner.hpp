#pragma once
// Runs one CoAP request: finds its route, sequences the procedure's plans (translate/) through
// the upstream client and renders the answer; remembers what upstream said about aliases and
// content so repeated requests cost no call.
//
// Why coroutines and not state machines that return the next upstream request as a value: a
// procedure is at most three dependent calls (alias check, read or write, a download's info and
// range), each already a pure plan/render pair in translate/. Written as `co_await
// client.async_send(plan(...))` it reads in the order the API document describes; a state
// machine would add a state enum and a resume switch per procedure for no new testability,
// because the only I/O is behind upstream::client (a scripted fake in tests) and time comes from
// the injected runner::clock (virtual in tests).
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "gateway/coap/message.hpp"
#include "runner/alias_cache.hpp"
#include "runner/clock.hpp"
#include "runner/content_cache.hpp"
#include "runner/expiring_map.hpp"
#include "runner/observed_points.hpp"
#include "runner/write_limiter.hpp"
#include "translate/provision.hpp"
#include "translate/route_table.hpp"
#include "upstream/client.hpp"

namespace gw::runner {

using translate::procedure;

struct runner_options {
  alias_cache_options alias_cache;
  bool local_timestamp = false;   // timestamp.source: local
  std::size_t block_size = 1024;  // coap.block_size: the largest block Download Content sends
  std::size_t content_cache_bytes = 32 << 20;  // download.cache_bytes
  // Max-Age of the 5.03 for a full upstream queue: the core's
  // (endpoint_config::overload_max_age_s).
  std::uint32_t busy_max_age_s = 5;
  // coap.read_max_age: Max-Age of a Read's answer (translate::render_value says why 0).
  std::uint32_t read_max_age_s = 0;
  // Download Content asks upstream for this many bytes at a time (a multiple of 1024).
  std::size_t download_window = 16 * 1024;
  // A download that starts (block 0) checks the content's version again once the last check is
  // this old. Upstream timestamps have one-second resolution, so checking more often than once
  // a second cannot see more updates.
  std::chrono::milliseconds content_info_ttl{1000};
  // How long a content's version is remembered at all; within it, blocks served from a cached
  // window need no info call (runner/download.cpp).
  std::chrono::milliseconds content_info_keep{10 * 60 * 1000};
  std::size_t content_info_entries = 10000;
  // upstream.timeout, set on every call so that a reload changes it for the next one.
  std::chrono::milliseconds upstream_timeout{10000};
  // How long a CIK upstream answered 401 for is refused without asking (0: not remembered).
  std::chrono::milliseconds rejected_cik_ttl{30000};
  std::size_t rejected_cik_entries = 100000;
  // limits.per_cik: writes per second per CIK (and alias); off (rate 0) by default.
  write_limit_options write_limit;
};

// Which upstream pool a procedure's calls go to: RPC (whose `wait` can last seconds) and
// Activate (a slow provisioning API) have a lane of their own so that they cannot starve reads
// and writes of connections. The one place this is decided: the runner sends by it and the
// worker's admission gate counts by it.
enum class lane { short_calls, long_calls };
lane lane_of(translate::procedure p);

class procedure_runner {
 public:
  // `points`, when given, receives the point each Observe registration read (shared with the
  // long-poll bridge). `long_calls`, when given, takes the calls that may take long (RPC, whose
  // `wait` can last seconds, and Activate) so that they cannot starve reads and writes of
  // connections; `client` takes the rest.
  procedure_runner(upstream::client& client, runner_options options, clock& time = system_clock(),
                   observed_points* points = nullptr, upstream::client* long_calls = nullptr);

  // A request once its route and CIK are settled: its answer when one is known without
  // upstream, else what the upstream calls need.
  struct decision {
    const translate::route* route = nullptr;  // nullptr: no route took the request
    std::optional<coap::message> answer;      // set: answered here, nothing to run
    std::vector<std::string> params;
    std::string cik;  // decoded; empty for the procedures that need none (RPC, activate...)
  };

  // Without I/O or suspension: answers discovery, 4.04/4.05/4.06, a missing, malformed or
  // recently refused CIK and a local timestamp at once, so that a worker needs no coroutine
  // for them; anything else is left to async_run.
  decision decide(const coap::message& request);
  // Runs what decide() left to upstream.
  boost::asio::awaitable<coap::message> async_run(const coap::message& request, decision work);
  // decide() then async_run().
  boost::asio::awaitable<coap::message> async_handle(coap::message request);

  void set_options(runner_options options);

 private:
  using call_result = std::variant<upstream::response, coap::message>;

  boost::asio::awaitable<coap::message> async_with_cik(const coap::message& request, procedure p,
                                                       const std::vector<std::string>& params,
                                                       const std::string& cik);
  boost::asio::awaitable<call_result> async_call(const coap::message& request,
                                                 upstream::request http,
                                                 lane which = lane::short_calls);
  // Whether the alias exists for this CIK: from the cache, else through `lookup`. A message is
  // the answer to give instead (4.01, 5.02...).
  boost::asio::awaitable<std::variant<bool, coap::message>> async_alias_exists(
      const coap::message& request, const std::string& cik, const std::string& alias);
  // Whether every alias exists: from the cache, the rest in one `lookup` request.
  boost::asio::awaitable<std::variant<bool, coap::message>> async_aliases_exist(
      const coap::message& request, const std::string& cik, std::span<const std::string> aliases);

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
  // Get Content Info, remembered as checked now.
  boost::asio::awaitable<std::variant<translate::content_info, coap::message>> async_content_info(
      const coap::message& request, const std::string& cik, const std::vector<std::string>& params);
  boost::asio::awaitable<coap::message> async_rpc(const coap::message& request);
  // Procedures with one call whose 200 is rendered by `render` and the rest by the code table.
  boost::asio::awaitable<coap::message> async_simple(
      const coap::message& request, procedure p, upstream::request http,
      coap::message (*render)(const coap::message&, const upstream::response&),
      lane which = lane::short_calls);

  void remember_point(const std::string& cik, const std::string& alias,
                      const upstream::response& response, const std::string& value);

  upstream::client& client_;
  upstream::client& long_client_;
  observed_points* points_;
  runner_options options_;
  clock& clock_;
  alias_cache aliases_;
  content_cache content_;
  struct checked_info {
    translate::content_info info;
    core::time_point checked;
  };
  expiring_map<checked_info> infos_;  // "<cik>\0<vendor>\0<model>\0<id>"
  expiring_map<bool> rejected_ciks_;
  write_limiter writes_;
};

}  // namespace gw::runner
