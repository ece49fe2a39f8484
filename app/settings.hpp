#pragma once
// The one mapping from the config file to each component's options, and the list of keys a
// reload cannot change.
#include <memory>
#include <string>
#include <vector>

#include "conf/config.hpp"
#include "gateway/server/udp_server.hpp"
#include "runner/breaker.hpp"
#include "runner/long_poll_bridge.hpp"
#include "runner/procedure_runner.hpp"
#include "runner/upstream_admission.hpp"
#include "upstream/http_client.hpp"

namespace gw::app {

server::server_options server_options_from(const conf::config& c);
core::endpoint_config endpoint_config_from(const conf::config& c);
upstream::client_options client_options_from(const conf::config& c);
runner::runner_options runner_options_from(const conf::config& c);
runner::long_poll_options long_poll_options_from(const conf::config& c);
// The pool for calls that may take long (RPC, Activate).
upstream::client_options long_call_client_options_from(const conf::config& c);
runner::breaker_options breaker_options_from(const conf::config& c);
// The admission gate in front of one lane's pool: its capacity is that pool's connections +
// queue.
runner::admission_options admission_options_from(const conf::config& c, runner::lane which);
// A long-poll gets a pool of its own: one connection, no queue.
upstream::client_options long_poll_client_options_from(const conf::config& c);
void apply_logging(const conf::config& c);
// coap.dtls.psk_file read and parsed: an empty table when no file is configured; nullptr with
// `error` naming the file and line otherwise (never a key).
std::shared_ptr<const server::psk_table> load_psk_file(const conf::config& c, std::string& error);
std::shared_ptr<const server::psk_table> parse_psk_text(const std::string& text,
                                                        const std::string& source,
                                                        std::string& error);

// Keys whose new values only a restart applies (sockets, threads, the upstream origin and TLS).
std::vector<std::string> restart_only_changes(const conf::config& running,
                                              const conf::config& loaded);
// `loaded` with those keys kept at their running values: what a reload puts in effect.
conf::config effective_after_reload(const conf::config& running, const conf::config& loaded);

}  // namespace gw::app
