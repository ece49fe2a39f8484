#include "sim/command_line.hpp"

#include <charconv>

namespace gw::sim {
namespace {

template <class T>
bool parse_unsigned(std::string_view text, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

bool parse_listen(std::string_view text, std::string& host, std::uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const auto host_part = text.substr(0, colon);
  if (host_part.find(':') != std::string_view::npos &&
      (host_part.front() != '[' || host_part.back() != ']')) {
    return false;
  }
  if (!parse_unsigned(text.substr(colon + 1), port)) return false;
  host = std::string(host_part);
  return true;
}

bool parse_command_line(std::span<const std::string_view> args, command_line& out,
                        std::string& problem) {
  bool have_listen = false;
  std::optional<std::string> cert, key;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto flag = args[i];
    if (flag == "--help" || flag == "-h") {
      out.help = true;
      return true;
    }
    if (i + 1 >= args.size()) {
      problem = std::string(flag) + (flag.starts_with("--") ? ": missing value" : ": unknown");
      return false;
    }
    const auto value = args[++i];
    if (flag == "--listen") {
      if (!parse_listen(value, out.host, out.port)) {
        problem = "--listen: expected HOST:PORT, got '" + std::string(value) + "'";
        return false;
      }
      have_listen = true;
    } else if (flag == "--state") {
      out.state_file = std::string(value);
    } else if (flag == "--tls-cert") {
      cert = std::string(value);
    } else if (flag == "--tls-key") {
      key = std::string(value);
    } else if (flag == "--max-requests-per-connection") {
      if (!parse_unsigned(value, out.options.max_requests_per_connection)) {
        problem = "--max-requests-per-connection: expected a number";
        return false;
      }
    } else {
      problem = std::string(flag) + ": unknown option";
      return false;
    }
  }
  if (!have_listen || out.state_file.empty()) {
    problem = "--listen and --state are required";
    return false;
  }
  if (cert.has_value() != key.has_value()) {
    problem = "--tls-cert and --tls-key go together";
    return false;
  }
  if (cert) out.tls = tls_files{*cert, *key};
  return true;
}

}  // namespace gw::sim
