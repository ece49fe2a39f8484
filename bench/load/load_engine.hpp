#pragma once
// The I/O of coap-load: one non-blocking UDP socket per simulated client (so the server sees
// thousands of distinct peers), one epoll set, one timerfd for every deadline. Single-threaded.
#include "bench/load/load_options.hpp"
#include "bench/load/load_results.hpp"

namespace gw::bench {

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the soft limit now in force.
std::uint64_t raise_open_file_limit();

// Runs the whole load (warm-up, measured window, drain) and returns what it measured.
// Start-up failures (too few file descriptors, socket, bind) throw std::runtime_error.
// Precondition: opts.ciks holds at least one CIK when a template uses <CIK>.
load_results run_load(const load_options& opts);

}  // namespace gw::bench
