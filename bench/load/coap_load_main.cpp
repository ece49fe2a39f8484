// coap-load: a CoAP load generator (bench/README.md). Thin main: parse, run, report.
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <string_view>
#include <vector>

#include "bench/load/load_engine.hpp"
#include "bench/load/load_options.hpp"
#include "bench/load/load_results.hpp"

int main(int argc, char** argv) {
  using namespace gw::bench;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  load_options opts;
  std::string problem;
  if (!parse_command_line(args, opts, problem)) {
    std::cerr << "coap-load: " << problem << "\n" << usage_text;
    return 2;
  }
  if (opts.help) {
    std::cout << usage_text;
    return 0;
  }
  if (!opts.ciks_file.empty() && !load_ciks(opts.ciks_file, opts.ciks, problem)) {
    std::cerr << "coap-load: " << problem << "\n";
    return 2;
  }
  try {
    const load_results results = run_load(opts);
    auto& human = opts.json_path == "-" ? std::cerr : std::cout;
    if (!opts.quiet) human << summary(opts, results) << std::flush;
    if (!opts.json_path.empty()) {
      const auto text = to_json(opts, results).dump(2) + "\n";
      if (opts.json_path == "-") {
        std::cout << text << std::flush;
      } else {
        std::ofstream out(opts.json_path);
        out << text;
        if (!out) {
          std::cerr << "coap-load: cannot write " << opts.json_path << "\n";
          return 1;
        }
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "coap-load: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
