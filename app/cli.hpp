#pragma once
// Command line of coap-gateway.
#include <optional>
#include <string>
#include <vector>

namespace gw::app {

struct cli {
  std::optional<std::string> config_path;
  bool check_config = false;
  bool demo = false;
  bool version = false;
  bool help = false;
};

// nullopt with `error` set for an unknown or incomplete argument.
std::optional<cli> parse_cli(const std::vector<std::string>& args, std::string& error);
const char* usage();

}  // namespace gw::app
