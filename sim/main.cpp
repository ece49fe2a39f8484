// onep-sim: the One Platform stand-in. Exit codes: 0 after SIGINT/SIGTERM, 1 when it cannot
// listen, 2 for a bad command line or state file.
#include <csignal>
#include <iostream>
#include <random>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "sim/command_line.hpp"
#include "sim/server.hpp"

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  gw::sim::command_line cl;
  std::string problem;
  if (!gw::sim::parse_command_line(args, cl, problem)) {
    std::cerr << "onep-sim: " << problem << "\n" << gw::sim::usage_text;
    return 2;
  }
  if (cl.help) {
    std::cout << gw::sim::usage_text;
    return 0;
  }
  auto loaded = gw::sim::load_state_file(cl.state_file);
  if (!loaded) {
    std::cerr << loaded.error().message << "\n";
    return 2;
  }
  loaded->seed(std::random_device{}());

  boost::asio::io_context ioc;
  gw::sim::server sim{ioc, std::move(*loaded), cl.host, cl.port, cl.tls, cl.options};
  // Installed before the "listening" line, so a test may signal as soon as it reads it.
  boost::asio::signal_set signals{ioc, SIGINT, SIGTERM};
  signals.async_wait([&](const boost::system::error_code&, int) {
    sim.stop();
    ioc.stop();
  });
  const auto port = sim.start();
  if (!port) {
    std::cerr << "onep-sim: cannot listen on " << cl.host << ":" << cl.port << ": "
              << port.error().message() << "\n";
    return 1;
  }
  std::cout << "onep-sim listening on " << (cl.tls ? "https://" : "http://") << cl.host << ":"
            << *port << std::endl;

  ioc.run();
  return 0;
}
