#pragma once
// The One Platform data interface (`/onep:v1/stack/alias`: write, read, hybrid, long-poll) and
// `/timestamp`, as pure functions of the request, the state and `now`.
#include <chrono>

#include "sim/message.hpp"
#include "sim/state.hpp"

namespace gw::sim {

// The upstream cap on Request-Timeout.
inline constexpr std::chrono::milliseconds max_request_timeout{300000};

// A GET with a Request-Timeout header is a long-poll.
bool is_longpoll(const request& req);

// POST without query: write; POST with query: hybrid (writes before reads); GET: read, or a
// long-poll that may come back as a deferred.
outcome handle_stack_alias(const request& req, state& st, time_point now);

response handle_timestamp(const request& req, time_point now);

}  // namespace gw::sim
