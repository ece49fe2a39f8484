#include "app/cli.hpp"

namespace gw::app {

std::optional<cli> parse_cli(const std::vector<std::string>& args, std::string& error) {
  cli out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--config" || a == "-c") {
      if (i + 1 == args.size()) {
        error = a + " needs a file";
        return std::nullopt;
      }
      out.config_path = args[++i];
    } else if (a.starts_with("--config=")) {
      out.config_path = a.substr(9);
    } else if (a == "--check-config") {
      out.check_config = true;
    } else if (a == "--demo") {
      out.demo = true;
    } else if (a == "--version" || a == "-V") {
      out.version = true;
    } else if (a == "--help" || a == "-h") {
      out.help = true;
    } else {
      error = "unknown argument: " + a;
      return std::nullopt;
    }
  }
  if (out.check_config && !out.config_path) {
    error = "--check-config needs --config FILE";
    return std::nullopt;
  }
  return out;
}

const char* usage() {
  return "usage: coap-gateway --config FILE       run the gateway\n"
         "       coap-gateway --check-config --config FILE\n"
         "                                        validate FILE and exit (0 ok, 2 invalid)\n"
         "       coap-gateway --demo [--config FILE]\n"
         "                                        run on 127.0.0.1:5683 and [::1]:5683 against an\n"
         "                                        embedded One Platform simulator\n"
         "       coap-gateway --version | --help\n"
         "\n"
         "CoAP-to-HTTP gateway for Exosite's One Platform (RFC 7252, 7641, 7959).\n";
}

}  // namespace gw::app
