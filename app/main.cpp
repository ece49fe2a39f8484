// coap-gateway: CoAP in front, Exosite's One Platform HTTP APIs behind.
#include <iostream>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/demo.hpp"
#include "app/gateway_app.hpp"
#include "conf/load.hpp"

int main(int argc, char** argv) {
  std::string error;
  auto cli = gw::app::parse_cli(std::vector<std::string>(argv + 1, argv + argc), error);
  if (!cli) {
    std::cerr << "coap-gateway: " << error << "\n" << gw::app::usage();
    return 2;
  }
  if (cli->help) {
    std::cout << gw::app::usage();
    return 0;
  }
  if (cli->version) {
    std::cout << "coap-gateway " GW_VERSION "\n";
    return 0;
  }

  gw::conf::config config;
  if (cli->config_path) {
    auto loaded = gw::conf::load_file(*cli->config_path);
    if (!loaded.ok()) {
      for (const auto& e : loaded.errors()) std::cerr << e.to_string() << "\n";
      return 2;
    }
    for (const auto& w : loaded.warnings) std::cerr << "warning: " << w.to_string() << "\n";
    config = loaded.get();
  } else if (!cli->demo) {
    std::cerr << "coap-gateway: --config FILE or --demo is required\n" << gw::app::usage();
    return 2;
  }
  if (cli->check_config) {
    std::cout << *cli->config_path << ": ok\n";
    return 0;
  }
  if (cli->demo) return gw::app::run_demo(config, cli->config_path.has_value());
  return gw::app::run_gateway(config, cli->config_path);
}
