#include "gateway/core/dedup_cache.hpp"

#include <algorithm>

namespace gw::core {

std::uint64_t request_fingerprint(std::span<const std::uint8_t> datagram) {
  // The Message ID is bytes 2 and 3 of the header (RFC 7252 §3). The length goes first, so
  // that datagrams too short to have a Message ID cannot collide with longer ones.
  base::keyed_hasher h;
  h.integer(std::uint64_t{datagram.size()});
  h.bytes(datagram.first(std::min<std::size_t>(datagram.size(), 2)));
  if (datagram.size() > 4) h.bytes(datagram.subspan(4));
  return h.finish();
}

dedup_cache::entry* dedup_cache::find(const mid_key& key, std::uint64_t fingerprint,
                                      time_point now) {
  return live(entries_.find(key), fingerprint, now);
}

dedup_cache::entry* dedup_cache::find(const mid_key& key, std::span<const std::uint8_t> datagram,
                                      time_point now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  return live(it, request_fingerprint(datagram), now);
}

dedup_cache::entry* dedup_cache::live(map::iterator it, std::uint64_t fingerprint, time_point now) {
  if (it == entries_.end()) return nullptr;
  if (it->second.expires <= now) {
    // Past its window (for a safe request, the replay window): as if never seen, even when
    // on_timer has not got round to it yet.
    erase(it);
    return nullptr;
  }
  if (it->second.fingerprint != fingerprint) return nullptr;
  return &it->second;
}

bool dedup_cache::insert(const mid_key& key, std::uint64_t fingerprint, request_id id, kind k,
                         time_point now, time_point expires, std::size_t reply_reserve) {
  // The MID now names this request, whatever the old entry was (RFC 7252 §4.5 as DESIGN.md
  // reads it for fixed-MID clients): replacing is not an eviction.
  if (auto it = entries_.find(key); it != entries_.end()) erase(it);
  const std::size_t reserved = k == kind::unsafe ? reply_reserve : 0;
  const std::size_t charge = overhead + reserved;
  auto& s = store_of(k);
  // Issue #13: running safe entries are bounded per source and per address. Answered ones are
  // evicted oldest first when the store is full, but running ones cannot be (their answer is
  // still to come), so without this the ports of one address could fill the safe store with
  // slow GETs and have every other client's GET refused.
  if (k == kind::safe && limits_ != nullptr &&
      limits_->check(limited::safe_dedup, safe_counts_, key.peer))
    return false;
  if (k == kind::unsafe) {
    // Never forget an unsafe request early to admit another: refuse the newcomer instead.
    if (s.bytes + charge > s.max) return false;
  } else if (!make_room(k, charge)) {
    return false;
  }
  entry e;
  e.fingerprint = fingerprint;
  e.id = id;
  e.kind = k;
  e.arrived = now;
  e.expires = expires;
  e.reserved = reserved;
  e.charged = charge;
  e.order = s.answered.end();
  e.deadline = deadlines_.push(expires, armed{key, id});
  entries_.emplace(key, std::move(e));
  s.bytes += charge;
  if (k == kind::safe) {
    safe_counts_.add(key.peer);
    ++safe_entries_;
  }
  return true;
}

void dedup_cache::set_reply(const mid_key& key, request_id id, coap::bytes reply, bool answered,
                            time_point now, duration replay_window) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.id != id) return;
  auto& e = it->second;
  auto& s = store_of(e.kind);
  s.bytes -= e.charged;
  e.reply = std::move(reply);
  // A finished request gives back what it reserved beyond its reply.
  e.charged = overhead + (answered ? e.reply.size() : std::max(e.reserved, e.reply.size()));
  s.bytes += e.charged;
  if (answered && !e.answered) {
    e.answered = true;
    s.answered.push_back(key);
    e.order = std::prev(s.answered.end());
    if (e.kind == kind::safe) {
      safe_counts_.remove(key.peer);
      --safe_entries_;
      // RFC 7252 §4.5 allows a safe request to run again; within the window a copy still gets
      // this answer, so a burst of retransmissions costs one upstream call.
      e.expires = now + replay_window;
      deadlines_.cancel(e.deadline);  // one expiry per entry: the lifetime one is dead now
      e.deadline = deadlines_.push(e.expires, armed{key, id});
    }
  }
  // A reply larger than its reservation may push the store over its bound.
  if (s.bytes > s.max) make_room(e.kind, 0);
}

void dedup_cache::forget(const mid_key& key, request_id id) {
  if (auto it = entries_.find(key); it != entries_.end() && it->second.id == id) erase(it);
}

void dedup_cache::drop(const mid_key& key) {
  if (auto it = entries_.find(key); it != entries_.end()) erase(it);
}

void dedup_cache::set_max_bytes(std::size_t max_bytes) {
  const std::size_t safe = max_bytes / 4;
  store_of(kind::safe).max = safe;
  store_of(kind::unsafe).max = max_bytes - safe;
  make_room(kind::safe, 0);
  make_room(kind::unsafe, 0);
}

void dedup_cache::erase(map::iterator it) {
  auto& s = store_of(it->second.kind);
  if (it->second.answered) s.answered.erase(it->second.order);
  s.bytes -= it->second.charged;
  if (it->second.kind == kind::safe && !it->second.answered) {
    safe_counts_.remove(it->first.peer);
    --safe_entries_;
  }
  deadlines_.cancel(it->second.deadline);  // a no-op when it is the one being taken
  entries_.erase(it);
}

bool dedup_cache::make_room(kind k, std::size_t needed) {
  auto& s = store_of(k);
  while (s.bytes + needed > s.max) {
    // Running requests are never evicted: their answer is still to come.
    if (s.answered.empty()) return false;
    auto it = entries_.find(s.answered.front());
    if (k == kind::unsafe && (!youngest_evicted_ || it->second.arrived > *youngest_evicted_))
      youngest_evicted_ = it->second.arrived;
    erase(it);
    ++s.evictions;
  }
  return true;
}

void dedup_cache::expire(time_point now) {
  for (const auto& due : deadlines_.take_due(now)) {
    auto it = entries_.find(due.key);
    if (it == entries_.end() || it->second.id != due.id || it->second.expires > now) continue;
    erase(it);
  }
}

std::vector<dedup_cache::answered_request> dedup_cache::answered_unsafe(time_point now) const {
  std::vector<answered_request> out;
  for (const auto& [key, e] : entries_) {
    if (e.kind != kind::unsafe || !e.answered || e.reply.empty() || e.expires <= now) continue;
    out.push_back({key, e.fingerprint, e.reply, e.arrived, e.expires});
  }
  return out;
}

}  // namespace gw::core
