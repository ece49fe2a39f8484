#include "gateway/core/amplification.hpp"

#include <algorithm>

namespace gw::core {

std::uint64_t send_budget(std::uint64_t received, std::uint64_t sent, unsigned factor) {
  const std::uint64_t limit = received * factor;
  return limit > sent ? limit - sent : 0;
}

std::uint8_t szx_within(std::size_t allowance, std::size_t overhead) {
  for (std::uint8_t szx = 6; szx > 0; --szx) {
    if ((std::size_t{16} << szx) + overhead <= allowance) return szx;
  }
  return 0;
}

void amplification_guard::erase(list::iterator it) {
  if (it->verified) --verified_count_;
  index_.erase(it->who);
  lru_.erase(it);
}

void amplification_guard::on_received(const peer& from, std::size_t bytes, time_point now) {
  if (options_.factor == 0) return;
  auto found = index_.find(from);
  if (found != index_.end() && lapsed(*found->second, now)) {
    erase(found->second);  // idle too long: a stranger again (a NAT may have reused the port)
    found = index_.end();
  }
  if (found == index_.end()) {
    while (!lru_.empty() && lru_.size() >= std::max<std::size_t>(options_.max_sources, 1))
      erase(lru_.begin());
    lru_.push_back(source{from, 0, 0, now, false});
    found = index_.emplace(from, std::prev(lru_.end())).first;
  }
  auto it = found->second;
  it->received += bytes;
  it->last_seen = now;
  lru_.splice(lru_.end(), lru_, it);
}

const amplification_guard::source* amplification_guard::find(const peer& p, time_point now) const {
  auto found = index_.find(p);
  if (found == index_.end() || lapsed(*found->second, now)) return nullptr;
  return &*found->second;
}

std::optional<std::uint64_t> amplification_guard::allowance(const peer& to, time_point now) const {
  if (options_.factor == 0) return std::nullopt;
  const auto* s = find(to, now);
  if (s == nullptr) return 0;
  if (s->verified) return std::nullopt;
  return send_budget(s->received, s->sent, options_.factor);
}

bool amplification_guard::try_send(const peer& to, std::size_t bytes, time_point now) {
  if (options_.factor == 0) return true;
  auto found = index_.find(to);
  source* s = found == index_.end() || lapsed(*found->second, now) ? nullptr : &*found->second;
  if (s != nullptr && s->verified) return true;
  if (s == nullptr || send_budget(s->received, s->sent, options_.factor) < bytes) {
    counters_.held_bytes += bytes;
    ++counters_.skipped_sends;
    return false;
  }
  s->sent += bytes;
  return true;
}

void amplification_guard::mark_verified(const peer& who, time_point now) {
  if (options_.factor == 0) return;
  auto found = index_.find(who);
  if (found == index_.end() || lapsed(*found->second, now)) {
    on_received(who, 0, now);
    found = index_.find(who);
  }
  auto it = found->second;
  it->last_seen = now;
  lru_.splice(lru_.end(), lru_, it);
  if (it->verified) return;
  it->verified = true;
  ++verified_count_;
  ++counters_.verified;
}

bool amplification_guard::verified(const peer& who, time_point now) const {
  if (options_.factor == 0) return true;
  const auto* s = find(who, now);
  return s != nullptr && s->verified;
}

void amplification_guard::expire(time_point now) {
  while (!lru_.empty() && lapsed(lru_.front(), now)) erase(lru_.begin());
}

amplification_stats amplification_guard::stats() const {
  auto s = counters_;
  s.verified_sources = verified_count_;
  s.sources = lru_.size();
  return s;
}

}  // namespace gw::core
