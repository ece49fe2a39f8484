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

// The line write() emits, '\n'-terminated. Fields may hold bytes from the network (aliases,
// payloads, peer text): in text lines every byte below 0x20, 0x7f and every byte that is not
// part of well-formed UTF-8 becomes the four characters \xNN, so a newline cannot forge a
// line and an ESC sequence cannot reach a terminal. JSON lines escape per RFC 8259 §7 (and
// 0x7f as \u007f); a byte of ill-formed UTF-8 becomes the text \xNN there too, so the line
// stays valid JSON (RFC 8259 §8.1 requires UTF-8).
enum class line_format { text, journal, json };
std::string format_line(line_format format, level l, std::string_view component,
                        std::string_view message);

// A CIK or other secret as its first 4 characters then "…"; binary input is hex-encoded first.
std::string mask(std::string_view secret);

}  // namespace gw::log

#define GW_LOG(lvl, component, expr)                                         \
  do {                                                                       \
    if (::gw::log::enabled(::gw::log::level::lvl)) {                         \
      ::gw::log::write(::gw::log::level::lvl, component, std::string(expr)); \
    }                                                                        \
  } while (0)
