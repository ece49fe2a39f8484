#pragma once
// Wires the configured pieces together: per-worker upstream clients and dispatchers behind the
// UDP server, metrics, systemd notifications, signals (SIGTERM/SIGINT stop, SIGHUP reloads) and
// the ready line. Everything main() needs beyond argv.
#include <optional>
#include <string>

#include "conf/config.hpp"

namespace gw::app {

// Runs until SIGINT/SIGTERM; returns the process exit status. `config_path` is re-read on SIGHUP.
int run_gateway(const conf::config& config, std::optional<std::string> config_path);

}  // namespace gw::app
