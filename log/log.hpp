#pragma once
// One line per event to stderr (journald adds the time and unit). Levels set at start and on
// reload. Secrets go through mask() before they reach a line.
#include <atomic>
#include <string>
#include <string_view>

namespace gw::log {

enum class level { trace = 0, debug, info, warn, error, off };

// "trace" | "debug" | "info" | "warn" | "error"; false if unknown.
bool parse_level(std::string_view text, level& out);
void set_level(level l);
level current_level();
void set_json(bool json);
inline bool enabled(level l) {
  return l >= current_level();
}

// Writes one line atomically with respect to other threads.
void write(level l, std::string_view component, std::string_view message);

// A CIK or other secret as its first 4 characters then "…"; binary input is hex-encoded first.
std::string mask(std::string_view secret);

}  // namespace gw::log

#define GW_LOG(lvl, component, expr)                                         \
  do {                                                                       \
    if (::gw::log::enabled(::gw::log::level::lvl)) {                         \
      ::gw::log::write(::gw::log::level::lvl, component, std::string(expr)); \
    }                                                                        \
  } while (0)
