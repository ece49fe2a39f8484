#pragma once
// YAML -> config, validated. Errors are values: "FILE:LINE: key.path: problem".
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "conf/config.hpp"

namespace gw::conf {

struct config_error {
  std::string file;
  int line = 0;     // 1-based; 0 when the file could not be read at all
  std::string key;  // "coap.ack_timeout"
  std::string problem;
  std::string to_string() const;  // "FILE:LINE: key: problem"
};

struct load_result {
  std::variant<config, std::vector<config_error>> value;
  // Accepted but worth saying (an old key name): "FILE:LINE: key: what to do".
  std::vector<config_error> warnings = {};
  bool ok() const { return value.index() == 0; }
  const config& get() const { return std::get<0>(value); }
  const std::vector<config_error>& errors() const { return std::get<1>(value); }
};

// `file` names the source in error messages.
load_result load_string(std::string_view yaml, std::string_view file = "<string>");
load_result load_file(const std::string& path);

// "500ms", "2s", "5m", "1h"; bare numbers are refused (units are required).
bool parse_duration(std::string_view text, duration& out);
// "1152", "64KiB", "16MiB", "1GiB".
bool parse_size(std::string_view text, std::uint64_t& out);
// "127.0.0.1:5683", "[::1]:5683", "0.0.0.0:5683".
bool parse_listen(std::string_view text, listen_address& out);

}  // namespace gw::conf
