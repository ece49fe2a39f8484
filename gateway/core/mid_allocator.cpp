#include "gateway/core/mid_allocator.hpp"

namespace gw::core {
namespace {

// Release times are rounded up to whole seconds so that one peer holds at most
// lifetime / 1 s runs, however fast it is sent to; rounding up never releases a MID early.
time_point round_up(time_point t) {
  return time_point(std::chrono::ceil<std::chrono::seconds>(t.time_since_epoch()));
}

}  // namespace

void mid_allocator::release(peer_state& s, time_point now) {
  while (!s.runs.empty() && s.runs.front().released <= now) {
    s.held -= s.runs.front().count;
    s.runs.pop_front();
  }
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
  const time_point released = round_up(now + lifetime);
  if (!s.runs.empty() && s.runs.back().released == released) {
    ++s.runs.back().count;
  } else {
    s.runs.push_back({released, 1});
    idle_.push(released, to);  // once per run, not per message
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
    release(it->second, now);
    if (it->second.runs.empty()) peers_.erase(it);
  }
}

}  // namespace gw::core
