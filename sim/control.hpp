#pragma once
// The test contract outside the One Platform namespace (`/_sim/...`, never a CIK): counters per
// endpoint, the log of received requests, the fault switches and a view of a dataport's points.
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/message.hpp"
#include "sim/state.hpp"

namespace gw::sim {

enum class endpoint {
  write,
  read,
  hybrid,
  longpoll,
  activate,
  list,
  info,
  download,
  timestamp,
  rpc,
  other,  // unknown paths: logged, not counted
};

inline constexpr std::size_t counted_endpoints = static_cast<std::size_t>(endpoint::other);
std::string_view endpoint_name(endpoint ep);

struct fault {
  enum class action { none, close, status, garbage };
  std::string match = "/";  // target prefix
  std::chrono::milliseconds delay{0};
  action act = action::none;
  unsigned status = 503;
  header_list headers;
  std::string body;
  std::optional<std::uint64_t> times;  // remaining uses; nullopt = unlimited
};

class control {
 public:
  static constexpr std::size_t request_log_size = 1000;

  static bool is_control_path(const request& req);

  void on_connection() { ++connections_; }
  // A One Platform request was read: logged, and counted under its endpoint.
  void on_request(endpoint ep, const request& req);
  void on_response(endpoint ep, std::size_t body_bytes);
  // `target` keys the per-target long-poll counts in /_sim/stats ("longpolls_by_target").
  void on_wait_started(endpoint ep, const std::string& target);
  void on_wait_ended(endpoint ep, const std::string& target);

  // The first fault added that matches `target`; uses up one of its `times`.
  std::optional<fault> take_fault(std::string_view target);

  // GET /_sim/stats, GET /_sim/requests, POST /_sim/reset, POST|DELETE /_sim/fault,
  // GET /_sim/dataport?cik=&alias=.
  response handle(const request& req, state& st);

 private:
  struct counters {
    std::uint64_t requests = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
  };
  struct logged_request {
    std::string method;
    std::string target;
    header_list headers;  // lower-case names
    std::string body;
  };

  response stats() const;
  response requests() const;
  response add_fault(const request& req);
  response dataport_view(const request& req, state& st) const;

  std::uint64_t connections_ = 0;
  std::array<counters, counted_endpoints> endpoints_{};
  std::uint64_t longpolls_active_ = 0;
  std::map<std::string, std::uint64_t> longpolls_by_target_;
  std::uint64_t waits_active_ = 0;
  std::deque<logged_request> log_;
  std::vector<fault> faults_;
};

}  // namespace gw::sim
