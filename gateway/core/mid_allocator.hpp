#pragma once
// Message IDs for the messages this endpoint originates (NON responses, separate CON responses,
// notifications), one sequence per peer. RFC 7252 §4.4: a MID must not be used again towards
// the same peer within EXCHANGE_LIFETIME, or the peer takes the new message for a duplicate of
// the old one and drops it (or sends back the old ACK). One counter shared by every peer breaks
// that as soon as a worker sends more than 65,536 messages within EXCHANGE_LIFETIME (an Observe
// fan-out to 10,000 devices does), so each peer gets its own counter, starting at a random value.
//
// A counter reuses a MID only after the other 65,535, so it is enough to know how many MIDs were
// taken towards the peer within the last `lifetime`: below 65,536, the next one is free. Those
// allocations are kept as runs per release slot, a slot being lifetime/8 (release times rounded
// up, so a MID is never released early, at most an eighth of the lifetime late): at most ten runs
// and one pending expiry per peer, whatever the rate. Runs per second kept up to 247 runs and
// 247 expiries per peer: about 5 KiB per observer notified once a second
// (bench/observe_memory.cpp). A peer that has used all 65,536 gets no MID
// (std::nullopt) until the oldest is released; what the caller then does is its documented
// outcome (see endpoint.hpp). A peer's state is dropped once all its MIDs are released, which is
// `lifetime` after the last message to it.
#include <cstdint>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/deadline_queue.hpp"
#include "gateway/core/peer.hpp"

namespace gw::core {

class mid_allocator {
 public:
  static constexpr std::uint32_t mid_space = 65536;

  // The next MID towards `to`, not used towards it within `lifetime` before `now`; nullopt when
  // all are. A peer seen for the first time starts at a value drawn from `rng`.
  std::optional<std::uint16_t> next(const peer& to, time_point now, duration lifetime,
                                    std::mt19937_64& rng);
  // Whether next() would give a MID towards `to` at `now` (without taking one).
  bool available(const peer& to, time_point now) const;

  // Drops the state of peers whose every MID has been released.
  void expire(time_point now);
  // May be early (a peer sent to again since); never late.
  std::optional<time_point> next_expiry() const { return idle_.next(); }

  std::size_t peers() const { return peers_.size(); }
  // MIDs towards `to` not yet released at `now`.
  std::uint32_t in_use(const peer& to, time_point now) const;
  // What the state of `to` holds: its runs, and the expiries queued for all peers (tests bound
  // both).
  std::size_t runs(const peer& to) const {
    auto it = peers_.find(to);
    return it == peers_.end() ? 0 : it->second.runs.size();
  }
  std::size_t pending_expiries() const { return idle_.size(); }

 private:
  struct run {
    time_point released;  // from then on these MIDs may be used again
    std::uint32_t count = 0;
  };
  struct peer_state {
    std::vector<run> runs;   // oldest first; at most ten (header comment)
    std::uint32_t held = 0;  // sum of runs[].count
    std::uint16_t next = 0;
    bool armed = false;  // an expiry for this peer is in idle_
  };
  static void release(peer_state& s, time_point now);

  std::unordered_map<peer, peer_state, peer_hash> peers_;
  deadline_queue<peer> idle_;
};

}  // namespace gw::core
