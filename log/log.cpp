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

constexpr char hex_digits[] = "0123456789abcdef";

void append_hex_escape(std::string& out, unsigned char c) {
  out += "\\x";
  out += hex_digits[c >> 4];
  out += hex_digits[c & 0xf];
}

// Length of the well-formed UTF-8 sequence of two to four bytes that starts at s[i] (Unicode
// Table 3-7: no overlong forms, no surrogates, nothing past U+10FFFF), or 0 when there is none
// or it encodes a C1 control (U+0080..U+009F): terminals take U+009B as CSI (ECMA-48 §5.3), so
// those are escaped like C0 controls.
std::size_t printable_utf8(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char lead = byte(0);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // bounds of the second byte
  if (lead == 0xc2) {
    n = 2, lo = 0xa0;
  } else if (lead >= 0xc3 && lead <= 0xdf) {
    n = 2;
  } else if (lead == 0xe0) {
    n = 3, lo = 0xa0;
  } else if (lead == 0xed) {
    n = 3, hi = 0x9f;
  } else if (lead >= 0xe1 && lead <= 0xef) {
    n = 3;
  } else if (lead == 0xf0) {
    n = 4, lo = 0x90;
  } else if (lead == 0xf4) {
    n = 4, hi = 0x8f;
  } else if (lead >= 0xf1 && lead <= 0xf3) {
    n = 4;
  } else {
    return 0;
  }
  if (s.size() - i < n || byte(1) < lo || byte(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (byte(k) < 0x80 || byte(k) > 0xbf) return 0;
  return n;
}

// Text lines: control bytes and ill-formed UTF-8 as \xNN, everything else as it is.
void append_text_field(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
    } else if (const auto n = c >= 0x80 ? printable_utf8(s, i) : 0; n != 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      append_hex_escape(out, c);
      ++i;
    }
  }
}

// A C1 control (U+0080..U+009F) in UTF-8: 0xc2 then 0x80..0x9f.
bool is_c1(std::string_view s, std::size_t i) {
  return static_cast<unsigned char>(s[i]) == 0xc2 && i + 1 < s.size() &&
         (static_cast<unsigned char>(s[i + 1]) & 0xe0) == 0x80;
}

void append_json_control(std::string& out, unsigned char code_point) {
  out += "\\u00";
  out += hex_digits[code_point >> 4];
  out += hex_digits[code_point & 0xf];
}

// RFC 8259 §7, and 0x7f and the C1 controls escaped too. A JSON text must be UTF-8 (§8.1): an
// ill-formed byte becomes the text \xNN (written "\\xNN"), as in text lines, rather than a code
// point it never was.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (const auto n = printable_utf8(s, i); n != 0) {
        out.append(s.substr(i, n));
        i += n;
      } else if (is_c1(s, i)) {
        append_json_control(out, static_cast<unsigned char>(s[i + 1]));
        i += 2;
      } else {
        out += '\\';
        append_hex_escape(out, c);
        ++i;
      }
      continue;
    }
    ++i;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      append_json_control(out, c);
    } else {
      out += static_cast<char>(c);
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

std::string format_line(line_format format, level l, std::string_view component,
                        std::string_view message) {
  const auto idx = static_cast<int>(l);
  std::string line;
  line.reserve(component.size() + message.size() + 32);
  if (format == line_format::json) {
    line = "{\"level\":\"";
    line += names[idx];
    line += "\",\"component\":";
    append_json_string(line, component);
    line += ",\"message\":";
    append_json_string(line, message);
    line += "}\n";
  } else {
    if (format == line_format::journal) line += priorities[idx];
    line += names[idx];
    line += ' ';
    append_text_field(line, component);
    line += ": ";
    append_text_field(line, message);
    line += '\n';
  }
  return line;
}

void write(level l, std::string_view component, std::string_view message) {
  // The priority prefix only when stderr goes to the journal; a terminal gets plain text.
  static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
  const auto format = json_format.load(std::memory_order_relaxed) ? line_format::json
                      : journal                                   ? line_format::journal
                                                                  : line_format::text;
  const std::string line = format_line(format, l, component, message);
  std::lock_guard lock(write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

std::string mask(std::string_view secret) {
  const auto& hex = hex_digits;
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
