#include "log/log.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace gw::log {
namespace {

std::atomic<level> current{level::info};
std::atomic<bool> json_format{false};
std::mutex write_mutex;

constexpr std::string_view names[] = {"trace", "debug", "info", "warn", "error", "off"};

// systemd's sd-daemon(3) priority prefixes, so journald keeps the level.
constexpr std::string_view priorities[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<3>"};

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace

bool parse_level(std::string_view text, level& out) {
  for (int i = 0; i < 5; ++i) {
    if (names[i] == text) {
      out = static_cast<level>(i);
      return true;
    }
  }
  return false;
}

void set_level(level l) {
  current.store(l);
}
level current_level() {
  return current.load(std::memory_order_relaxed);
}
void set_json(bool json) {
  json_format.store(json);
}

void write(level l, std::string_view component, std::string_view message) {
  const auto idx = static_cast<int>(l);
  std::string line;
  if (json_format.load(std::memory_order_relaxed)) {
    line = "{\"level\":\"";
    line += names[idx];
    line += "\",\"component\":";
    append_json_string(line, component);
    line += ",\"message\":";
    append_json_string(line, message);
    line += "}\n";
  } else {
    // The priority prefix only when stderr goes to the journal; a terminal gets plain text.
    static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
    if (journal) line += priorities[idx];
    line += names[idx];
    line += ' ';
    line += component;
    line += ": ";
    line += message;
    line += '\n';
  }
  std::lock_guard lock(write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

std::string mask(std::string_view secret) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string shown;
  for (unsigned char c : secret) {
    if (shown.size() >= 4) break;
    if (c >= 0x21 && c < 0x7f) {
      shown += static_cast<char>(c);
    } else {
      shown += hex[c >> 4];
      if (shown.size() < 4) shown += hex[c & 0xf];
    }
  }
  return shown + "\xE2\x80\xA6";  // U+2026
}

}  // namespace gw::log
