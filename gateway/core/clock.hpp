#pragma once
// The core never reads a clock: every entry point takes `now` (STYLE.md §1).
#include <chrono>

namespace gw::core {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
using duration = clock::duration;
using std::chrono::milliseconds;

}  // namespace gw::core
