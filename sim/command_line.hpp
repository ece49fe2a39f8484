#pragma once
// onep-sim's command line, parsed into values so that main stays thin and the rules are tested.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "sim/server.hpp"

namespace gw::sim {

struct command_line {
  std::string host;  // as written, brackets kept for IPv6: it is echoed in the "listening" line
  std::uint16_t port = 0;
  std::string state_file;
  std::optional<tls_files> tls;
  server_options options;
  bool help = false;
};

inline constexpr std::string_view usage_text =
    "usage: onep-sim --listen HOST:PORT --state FILE [--tls-cert FILE --tls-key FILE]\n"
    "                [--max-requests-per-connection N]\n"
    "  --listen HOST:PORT   IPv4 literal or [IPv6] literal; port 0 picks a free port\n"
    "  --state FILE         YAML or JSON seed: devices, dataports, content (sim/README.md)\n"
    "  --tls-cert, --tls-key  PEM files; when given the sim speaks only HTTPS\n"
    "  --max-requests-per-connection N  close a connection after N answers (default 100,\n"
    "                       0 = never)\n"
    "Prints 'onep-sim listening on http(s)://HOST:PORT' once ready; SIGINT/SIGTERM exit 0.\n";

// "127.0.0.1:8080", "[::1]:0". False on a missing port, a port beyond 65535 or an unbracketed
// IPv6 address.
bool parse_listen(std::string_view text, std::string& host, std::uint16_t& port);

// args excludes the program name. On failure returns false with a one-line problem.
bool parse_command_line(std::span<const std::string_view> args, command_line& out,
                        std::string& problem);

}  // namespace gw::sim
