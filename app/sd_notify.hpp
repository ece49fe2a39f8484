#pragma once
// The service manager notification protocol (sd_notify(3)), written here so the gateway needs
// no libsystemd: one datagram of newline-separated KEY=VALUE assignments sent to the AF_UNIX
// socket named by $NOTIFY_SOCKET (a file system path, or an abstract name written "@name").
//
// Every function is a no-op returning success when $NOTIFY_SOCKET is unset or empty (the
// gateway was not started by systemd with Type=notify), never throws, and reports a failed
// send as an error code: a notification is advisory, so callers log it and go on.
// Each call opens and closes its own socket, so all functions are thread-safe.
#include <chrono>
#include <optional>
#include <string_view>

#include <boost/system/error_code.hpp>

namespace gw::app::systemd {

// Sends `state` as it is (e.g. "READY=1\nSTATUS=serving"). Fails with invalid_argument for a
// $NOTIFY_SOCKET that is neither an absolute path nor "@name" or is too long for sockaddr_un.
boost::system::error_code notify(std::string_view state);

// READY=1: start-up (or a reload) is complete. Type=notify units stay "activating" until then.
boost::system::error_code notify_ready();
// STOPPING=1: shutdown has begun (systemd stops the watchdog and starts TimeoutStopSec).
boost::system::error_code notify_stopping();
// RELOADING=1 and MONOTONIC_USEC=<CLOCK_MONOTONIC in µs>; systemd 253+ requires the timestamp
// for Type=notify-reload, older versions ignore it. Send notify_ready() when the reload is done.
boost::system::error_code notify_reloading();
// STATUS=<text>, shown by `systemctl status`. Line breaks in `text` become spaces, since a
// newline would start a new assignment.
boost::system::error_code notify_status(std::string_view text);
// WATCHDOG=1: the keep-alive ping that WatchdogSec= expects.
boost::system::error_code notify_watchdog();

// The interval at which to call notify_watchdog(): half of $WATCHDOG_USEC, as
// sd_watchdog_enabled(3) recommends. nullopt when the watchdog is off: $WATCHDOG_USEC unset, empty,
// zero or not a decimal number, or $WATCHDOG_PID set but not this process's pid (the variables were
// inherited from a parent that systemd watches, not meant for us).
std::optional<std::chrono::microseconds> watchdog_interval();

// The rule behind watchdog_interval(), on explicit values (nullptr = variable unset).
std::optional<std::chrono::microseconds> watchdog_interval(const char* watchdog_usec,
                                                           const char* watchdog_pid, long self_pid);

}  // namespace gw::app::systemd
