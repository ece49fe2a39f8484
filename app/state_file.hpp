#pragma once
// The state file that carries observations and recent writes across a restart on the same
// host (issue #16; format in gateway/core/state_snapshot.hpp; docs/operations.md). One file for
// all workers, under state.directory (the unit's StateDirectory=), mode 0600: it holds CIKs.
// An empty state.directory turns it off (the demo).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include "conf/config.hpp"
#include "gateway/core/state_snapshot.hpp"

namespace gw::app {

std::string state_file_path(const conf::config& config);
// coap.listen as configured, "host:port" joined by spaces: a snapshot restores only under the
// same one (and the same effective workers), see udp_server::snapshot.
std::string listen_identity(const conf::config& config);

// Atomic replacement (a crash leaves the old file or the new one, never a mix): a temporary
// file in the same directory created 0600, written, fsync'd, renamed over `path`, then the
// directory fsync'd so that the rename itself is durable.
boost::system::error_code write_file_atomically(const std::string& path,
                                                std::span<const std::uint8_t> data);
boost::system::result<std::vector<std::uint8_t>> read_file(const std::string& path);

// At start, before anything hashes with the process key: reads the state file and moves it
// aside (".restored" or ".rejected", so a snapshot is never restored twice), and returns the
// per-worker snapshots when it is valid for this configuration, after adopting its hash key.
// Never fails: a missing, truncated, corrupt, foreign-version or mismatched file is logged and
// nothing is restored.
std::vector<core::worker_snapshot> take_restorable(const conf::config& config);

// On SIGTERM: writes `per_worker` (worker i's at index i). Logged, never fatal.
void save_state(const conf::config& config, std::vector<core::worker_snapshot> per_worker);

}  // namespace gw::app
