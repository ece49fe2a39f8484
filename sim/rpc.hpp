#pragma once
// JSON-RPC at `POST /onep:v1/rpc/process`: auth, calls with and without id, whole-request errors
// as {"error": {...}} with HTTP 200, per-call statuses. A call to `wait` suspends the exchange:
// the calls before it have run once and are not repeated; the answer is sent when the last call
// has finished.
#include <chrono>

#include "sim/message.hpp"
#include "sim/state.hpp"

namespace gw::sim {

inline constexpr std::chrono::milliseconds default_wait_timeout{30000};
inline constexpr std::chrono::milliseconds max_wait_timeout{300000};

outcome handle_rpc(const request& req, state& st, time_point now);

}  // namespace gw::sim
