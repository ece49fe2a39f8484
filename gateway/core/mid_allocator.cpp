#include "gateway/core/mid_allocator.hpp"

#include <algorithm>

namespace gw::core {
namespace {

// Release times are rounded up to a slot of lifetime/8 (at least 1 s) so that one peer holds at
// most ten runs however fast it is sent to; rounding up never releases a MID early.
time_point release_slot(time_point t, duration lifetime) {
  const auto slot = std::max<duration>(std::chrono::seconds(1), lifetime / 8);
  const auto since = t.time_since_epoch();
  const auto slots = (since + slot - duration(1)) / slot;
  return time_point(slots * slot);
}

}  // namespace

void mid_allocator::release(peer_state& s, time_point now) {
  std::size_t done = 0;
  while (done < s.runs.size() && s.runs[done].released <= now) s.held -= s.runs[done++].count;
  s.runs.erase(s.runs.begin(), s.runs.begin() + static_cast<std::ptrdiff_t>(done));
}

std::optional<std::uint16_t> mid_allocator::next(const peer& to, time_point now, duration lifetime,
                                                 std::mt19937_64& rng) {
  auto [it, fresh] = peers_.try_emplace(to);
  auto& s = it->second;
  if (fresh) s.next = static_cast<std::uint16_t>(rng());
  release(s, now);
  // The counter comes back to a MID after the other 65,535: with fewer than 65,536 held, the
  // one it gives now was released (or never used).
  if (s.held >= mid_space) return std::nullopt;
  const std::uint16_t mid = s.next++;
  const time_point released = release_slot(now + lifetime, lifetime);
  if (!s.runs.empty() && s.runs.back().released == released) {
    ++s.runs.back().count;
  } else {
    s.runs.push_back({released, 1});
  }
  if (!s.armed) {  // one expiry per peer: expire() moves it on to the next run
    s.armed = true;
    idle_.push(s.runs.front().released, to);
  }
  ++s.held;
  return mid;
}

bool mid_allocator::available(const peer& to, time_point now) const {
  return in_use(to, now) < mid_space;
}

std::uint32_t mid_allocator::in_use(const peer& to, time_point now) const {
  auto it = peers_.find(to);
  if (it == peers_.end()) return 0;
  std::uint32_t held = it->second.held;
  for (const auto& r : it->second.runs) {
    if (r.released > now) break;
    held -= r.count;
  }
  return held;
}

void mid_allocator::expire(time_point now) {
  for (const auto& p : idle_.take_due(now)) {
    auto it = peers_.find(p);
    if (it == peers_.end()) continue;
    auto& s = it->second;
    release(s, now);
    if (s.runs.empty()) {
      peers_.erase(it);
    } else {
      idle_.push(s.runs.front().released, p);
    }
  }
}

}  // namespace gw::core
