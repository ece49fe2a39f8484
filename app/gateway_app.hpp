#pragma once
// Wires the configured pieces together: a gateway_worker (upstream pool, procedure runner,
// long-poll bridge) behind each UDP worker, metrics, systemd notifications, signals
// (SIGTERM/SIGINT stop, SIGHUP reloads) and the ready line. Everything main() needs beyond argv.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "conf/config.hpp"

namespace gw::app {

// Called once every socket is bound, with the bound "host:port" addresses (the demo prints its
// commands with the real ports).
// `dtls`: the coaps addresses, same form.
using on_listening = std::function<void(const std::vector<std::string>& addresses,
                                        const std::vector<std::string>& dtls)>;

// Runs until SIGINT/SIGTERM; returns the process exit status. `config_path` is re-read on SIGHUP.
// `psk_text`, when set, stands for the content of coap.dtls.psk_file (the demo's key).
int run_gateway(const conf::config& config, std::optional<std::string> config_path,
                on_listening listening = {}, std::optional<std::string> psk_text = {});

}  // namespace gw::app
