#pragma once
// The sim's seed: a YAML (or JSON, which yaml-cpp reads too) state file -> sim::state.
// The format is documented in sim/README.md; sim/example-state.yaml is the reference example.
#include <string>
#include <string_view>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include "sim/state.hpp"

namespace gw::sim {

struct load_error {
  // "FILE:LINE: key.path: problem", or "FILE: problem" when no line is known.
  std::string message;
};

// Lets result<state, load_error>::value() throw (boost::system::result finds it by ADL).
[[noreturn]] void throw_exception_from_error(const load_error& e,
                                             const boost::source_location& loc);

using load_result = boost::system::result<state, load_error>;

// `now` stamps values given without a timestamp and resolves negative (relative) timestamps;
// the overloads without it read the system clock.
load_result load_state_string(std::string_view text, std::string_view name, unix_seconds now);
load_result load_state_string(std::string_view text, std::string_view name);
load_result load_state_file(const std::string& path, unix_seconds now);
load_result load_state_file(const std::string& path);

// Byte i of a `size: N` content file: i mod 251, a pattern that does not repeat at any power-of-
// two block size, so a misplaced block shows in a comparison.
std::string generated_bytes(std::size_t size);

}  // namespace gw::sim
