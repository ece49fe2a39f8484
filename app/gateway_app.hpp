#pragma once
// Wires the configured pieces together: per-worker upstream clients and dispatchers behind the
// UDP server, signal handling, and the ready line. Everything main() needs beyond argv.
#include "conf/config.hpp"

namespace gw::app {

// Runs until SIGINT/SIGTERM; returns the process exit status.
int run_gateway(const conf::config& config);

}  // namespace gw::app
