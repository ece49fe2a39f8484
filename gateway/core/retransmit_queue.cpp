#include "gateway/core/retransmit_queue.hpp"

namespace gw::core {

void retransmit_queue::add(const mid_key& key, coap::bytes datagram, core::owner owner,
                           time_point now, duration initial_timeout) {
  auto due = now + initial_timeout;
  pending_[key] = pending{std::move(datagram), owner, 0, initial_timeout, due};
  deadlines_.push(due, key);
}

bool retransmit_queue::replace(const mid_key& old_key, const mid_key& new_key,
                               coap::bytes datagram) {
  auto it = pending_.find(old_key);
  if (it == pending_.end()) return false;
  pending p = std::move(it->second);
  pending_.erase(it);  // its heap entry is skipped as stale when it comes due
  p.datagram = std::move(datagram);
  deadlines_.push(p.due, new_key);
  pending_[new_key] = std::move(p);
  return true;
}

std::optional<core::owner> retransmit_queue::settle(const mid_key& key) {
  auto it = pending_.find(key);
  if (it == pending_.end()) return std::nullopt;
  auto owner = it->second.owner;
  pending_.erase(it);
  return owner;
}

void retransmit_queue::drop(owner::kind what) {
  std::erase_if(pending_, [what](const auto& entry) { return entry.second.owner.what == what; });
}

void retransmit_queue::on_timer(time_point now, std::vector<resend>& resends,
                                std::vector<core::owner>& given_up) {
  for (const auto& key : deadlines_.take_due(now)) {
    auto it = pending_.find(key);
    // Settled meanwhile, or re-armed for later: a stale heap entry.
    if (it == pending_.end() || it->second.due > now) continue;
    auto& p = it->second;
    // RFC 7252 §4.2: after MAX_RETRANSMIT retransmissions, wait one more (doubled) timeout
    // for the last one's ACK, then give up.
    if (p.retransmits == max_retransmit_) {
      given_up.push_back(p.owner);
      pending_.erase(it);
      continue;
    }
    ++p.retransmits;
    ++retransmissions_;
    p.timeout *= 2;
    p.due = now + p.timeout;
    deadlines_.push(p.due, key);
    resends.push_back(resend{key, p.owner, &p.datagram});
  }
}

}  // namespace gw::core
