// libFuzzer target: the config loader and the value parsers on arbitrary bytes. Config files
// are operator input, but --check-config must still answer with errors, never a crash or throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "conf/load.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  gw::conf::load_result r = gw::conf::load_string(text, "fuzz.yaml");
  if (!r.ok()) {
    for (const gw::conf::config_error& e : r.errors()) {
      if (e.to_string().empty()) __builtin_trap();
    }
  }
  gw::conf::duration d{};
  std::uint64_t bytes = 0;
  gw::conf::listen_address address;
  (void)gw::conf::parse_duration(text, d);
  (void)gw::conf::parse_size(text, bytes);
  (void)gw::conf::parse_listen(text, address);
  return 0;
}
