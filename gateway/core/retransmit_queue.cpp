#include "gateway/core/retransmit_queue.hpp"

namespace gw::core {

void retransmit_queue::add(const mid_key& key, coap::bytes datagram, core::owner owner,
                           time_point now, duration initial_timeout) {
  auto due = now + initial_timeout;
  auto& p = pending_[key];
  deadlines_.cancel(p.deadline);  // the same key again (a caller's mistake): one deadline
  p = pending{std::move(datagram), owner, 0, initial_timeout, due, deadlines_.push(due, key)};
}

bool retransmit_queue::replace(const mid_key& old_key, const mid_key& new_key,
                               coap::bytes datagram) {
  auto it = pending_.find(old_key);
  if (it == pending_.end()) return false;
  pending p = std::move(it->second);
  pending_.erase(it);
  deadlines_.cancel(p.deadline);
  p.datagram = std::move(datagram);
  p.deadline = deadlines_.push(p.due, new_key);
  auto& slot = pending_[new_key];
  deadlines_.cancel(slot.deadline);  // as in add(): one deadline per key, whatever was there
  slot = std::move(p);
  return true;
}

std::optional<core::owner> retransmit_queue::settle(const mid_key& key) {
  auto s = settle(key, time_point{});
  if (!s) return std::nullopt;
  return s->owner;
}

std::optional<retransmit_queue::settled> retransmit_queue::settle(const mid_key& key,
                                                                  time_point now) {
  auto it = pending_.find(key);
  if (it == pending_.end()) return std::nullopt;
  const auto& p = it->second;
  settled out{p.owner, std::nullopt};
  // Sent once: due is the send time plus the initial timeout.
  if (p.retransmits == 0) out.round_trip = now - (p.due - p.timeout);
  deadlines_.cancel(p.deadline);
  pending_.erase(it);
  return out;
}

void retransmit_queue::drop(owner::kind what) {
  std::erase_if(pending_, [this, what](const auto& entry) {
    if (entry.second.owner.what != what) return false;
    deadlines_.cancel(entry.second.deadline);
    return true;
  });
}

void retransmit_queue::on_timer(time_point now, std::vector<resend>& resends,
                                std::vector<core::owner>& given_up) {
  for (const auto& key : deadlines_.take_due(now)) {
    auto it = pending_.find(key);
    if (it == pending_.end()) continue;  // not expected: settling cancels the deadline
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
    p.deadline = deadlines_.push(p.due, key);
    resends.push_back(resend{key, p.owner, &p.datagram});
  }
}

}  // namespace gw::core
