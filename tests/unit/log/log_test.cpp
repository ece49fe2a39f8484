#include "log/log.hpp"

#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using gw::log::format_line;
using gw::log::level;
using gw::log::line_format;

namespace {

std::string text_line(std::string_view message, std::string_view component = "access") {
  return format_line(line_format::text, level::info, component, message);
}

nlohmann::json json_line(std::string_view message) {
  const auto line = format_line(line_format::json, level::warn, "access", message);
  REQUIRE(line.back() == '\n');
  return nlohmann::json::parse(line.substr(0, line.size() - 1));  // throws on a broken line
}

// Undoes the text escape: \xNN back to the byte (the inputs below hold no backslash).
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x') {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 2, 2)), nullptr, 16));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool valid_utf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();  // nlohmann refuses ill-formed UTF-8 (type_error 316)
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

// A line is safe when its only line break is the last byte and no other control byte is in it.
bool one_safe_line(const std::string& line) {
  for (std::size_t i = 0; i + 1 < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c < 0x20 || c == 0x7f) return false;
  }
  return !line.empty() && line.back() == '\n' && valid_utf8(line);
}

}  // namespace

TEST_CASE("a text line keeps printable ASCII and its own newline") {
  CHECK(text_line("127.0.0.1:5683 write 2.04") == "info access: 127.0.0.1:5683 write 2.04\n");
  CHECK(format_line(line_format::journal, level::warn, "server", "x") == "<4>warn server: x\n");
}

TEST_CASE("a newline from the network cannot forge a second text line") {
  const auto line = text_line("alias=temp\ninfo gateway: stopped");
  CHECK(line == "info access: alias=temp\\x0ainfo gateway: stopped\n");
  CHECK(one_safe_line(line));
}

TEST_CASE("every C0 control byte and DEL become \\xNN in text lines") {
  for (int c = 0; c < 0x20; ++c) {
    char expected[8];
    std::snprintf(expected, sizeof expected, "\\x%02x", c);
    CAPTURE(c);
    CHECK(text_line(std::string(1, static_cast<char>(c))) ==
          std::string("info access: ") + expected + "\n");
  }
  CHECK(text_line("\x7f") == "info access: \\x7f\n");
  // An ESC sequence that would turn a terminal red and clear it.
  CHECK(text_line("\x1b[31m\x1b[2J") == "info access: \\x1b[31m\\x1b[2J\n");
  CHECK(text_line("a\rb\tc") == "info access: a\\x0db\\x09c\n");
}

TEST_CASE("the component is escaped as well as the message") {
  CHECK(text_line("m", "ev\nil") == "info ev\\x0ail: m\n");
}

TEST_CASE("well-formed UTF-8 is kept; ill-formed bytes and C1 controls become \\xNN") {
  CHECK(text_line("caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e") ==
        "info access: caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e\n");
  // The ellipsis of log::mask() stays readable.
  CHECK(text_line(gw::log::mask("a32c85ba")) == "info access: a32c\xe2\x80\xa6\n");
  CHECK(text_line("\x80") == "info access: \\x80\n");                    // lone continuation
  CHECK(text_line("\xff\xfe") == "info access: \\xff\\xfe\n");           // never in UTF-8
  CHECK(text_line("\xc0\xaf") == "info access: \\xc0\\xaf\n");           // overlong '/'
  CHECK(text_line("\xe0\x80\xaf") == "info access: \\xe0\\x80\\xaf\n");  // overlong '/'
  CHECK(text_line("\xed\xa0\x80") == "info access: \\xed\\xa0\\x80\n");  // a surrogate
  CHECK(text_line("\xf4\x90\x80\x80") == "info access: \\xf4\\x90\\x80\\x80\n");  // > U+10FFFF
  CHECK(text_line("\xe2\x82") == "info access: \\xe2\\x82\n");                    // truncated
  CHECK(text_line("\xe2\x82x") == "info access: \\xe2\\x82x\n");                  // cut short
  CHECK(text_line("\xc2\x9b"
                  "31m") == "info access: \\xc2\\x9b31m\n");  // U+009B: CSI
  CHECK(text_line("\xc2\xa0") == "info access: \xc2\xa0\n");  // U+00A0 is text
}

TEST_CASE("any bytes make one safe text line that unescapes to the bytes", "[property]") {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> length(0, 40), byte(0, 255);
  for (int round = 0; round < 5000; ++round) {
    std::string message;
    for (int n = length(rng); n > 0; --n) {
      auto c = static_cast<char>(byte(rng));
      message += c == '\\' ? 'b' : c;
    }
    const auto line = text_line(message);
    CAPTURE(message, line);
    REQUIRE(one_safe_line(line));
    REQUIRE(line.starts_with("info access: "));
    REQUIRE(unescape(line.substr(13, line.size() - 14)) == message);
  }
}

TEST_CASE("a JSON line escapes per JSON and is one valid JSON text") {
  const auto j = json_line("temp\ninfo forged\x1b[2J\x7f\"q\"\\");
  CHECK(j["level"] == "warn");
  CHECK(j["component"] == "access");
  CHECK(j["message"] == "temp\ninfo forged\x1b[2J\x7f\"q\"\\");
  const auto raw = format_line(line_format::json, level::info, "c", "a\nb\x1b\x7f");
  CHECK(raw == "{\"level\":\"info\",\"component\":\"c\",\"message\":\"a\\nb\\u001b\\u007f\"}\n");
  CHECK(format_line(line_format::json, level::info, "c", "\xc2\x9b") ==
        "{\"level\":\"info\",\"component\":\"c\",\"message\":\"\\u009b\"}\n");
  // Ill-formed UTF-8 would make the whole line unreadable to a collector: it becomes text.
  CHECK(json_line("a\xff"
                  "b")["message"] == "a\\xffb");
  CHECK(json_line("caf\xc3\xa9")["message"] == "caf\xc3\xa9");
}

TEST_CASE("any bytes make one JSON line that parses", "[property]") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> length(0, 40), byte(0, 255);
  for (int round = 0; round < 3000; ++round) {
    std::string message;
    for (int n = length(rng); n > 0; --n) message += static_cast<char>(byte(rng));
    const auto line = format_line(line_format::json, level::info, "access", message);
    CAPTURE(message, line);
    REQUIRE(one_safe_line(line));
    const auto j = nlohmann::json::parse(line.substr(0, line.size() - 1));
    if (valid_utf8(message)) {
      REQUIRE(j["message"] == message);  // nothing lost when the input was text
    }
  }
}

TEST_CASE("write() sends the escaped line to stderr") {
  std::fflush(stderr);
  std::FILE* capture = std::tmpfile();
  REQUIRE(capture != nullptr);
  const int saved = ::dup(STDERR_FILENO);
  REQUIRE(::dup2(::fileno(capture), STDERR_FILENO) >= 0);
  gw::log::set_json(false);
  gw::log::write(level::error, "access", "one\ntwo\x1b");
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);

  std::rewind(capture);
  char buffer[256] = {};
  const auto n = std::fread(buffer, 1, sizeof buffer - 1, capture);
  std::fclose(capture);
  const std::string got(buffer, n);
  // The journal's priority prefix when the test runs under systemd; the rest is the same.
  CHECK(got.ends_with("error access: one\\x0atwo\\x1b\n"));
  CHECK(got.find('\n') == got.size() - 1);
}
