#pragma once
// The One Platform paths the sim serves, and the one dispatch from a request to its handler.
#include "sim/control.hpp"
#include "sim/message.hpp"
#include "sim/state.hpp"

namespace gw::sim {

// Which counter a request belongs to; endpoint::other for paths the sim does not serve.
endpoint classify(const request& req);

// Every One Platform request (everything outside /_sim/): a response, or a deferred for a
// long-poll or an RPC that waits.
outcome handle(const request& req, state& st, time_point now);

}  // namespace gw::sim
