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

dedup_cache::entry* dedup_cache::find(const mid_key& key, std::uint64_t fingerprint) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.fingerprint != fingerprint) return nullptr;
  return &it->second;
}

bool dedup_cache::insert(const mid_key& key, std::uint64_t fingerprint, request_id id,
                         lifetime_class cls, time_point expires) {
  if (auto it = entries_.find(key); it != entries_.end()) erase(it);
  if (!make_room(overhead)) return false;
  auto& order = cls == lifetime_class::con ? con_order_ : non_order_;
  order.push_back(key);
  entry e;
  e.fingerprint = fingerprint;
  e.id = id;
  e.expires = expires;
  e.cls = cls;
  e.order = std::prev(order.end());
  entries_.emplace(key, std::move(e));
  bytes_ += overhead;
  return true;
}

void dedup_cache::set_reply(const mid_key& key, request_id id, coap::bytes reply, bool answered) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.id != id) return;
  auto& e = it->second;
  bytes_ -= e.reply.size();
  e.reply = std::move(reply);
  e.answered = answered;
  bytes_ += e.reply.size();
  // A large reply may push the cache over its bound: make room among the other entries.
  if (bytes_ > max_bytes_) make_room(0);
}

void dedup_cache::erase(std::unordered_map<mid_key, entry, mid_key_hash>::iterator it) {
  auto& order = it->second.cls == lifetime_class::con ? con_order_ : non_order_;
  order.erase(it->second.order);
  bytes_ -= overhead + it->second.reply.size();
  entries_.erase(it);
}

bool dedup_cache::make_room(std::size_t needed) {
  while (bytes_ + needed > max_bytes_) {
    // Oldest answered entry of either class; in-progress entries are skipped, not evicted.
    std::unordered_map<mid_key, entry, mid_key_hash>::iterator victim = entries_.end();
    for (auto* order : {&con_order_, &non_order_}) {
      for (const auto& key : *order) {
        auto it = entries_.find(key);
        if (!it->second.answered) continue;
        if (victim == entries_.end() || it->second.expires < victim->second.expires) victim = it;
        break;
      }
    }
    if (victim == entries_.end()) return false;
    erase(victim);
    ++evictions_;
  }
  return true;
}

void dedup_cache::expire(time_point now) {
  for (auto* order : {&con_order_, &non_order_}) {
    while (!order->empty()) {
      auto it = entries_.find(order->front());
      if (it->second.expires > now) break;
      erase(it);
    }
  }
}

std::optional<time_point> dedup_cache::next_expiry() const {
  std::optional<time_point> next;
  for (const auto* order : {&con_order_, &non_order_}) {
    if (order->empty()) continue;
    auto t = entries_.at(order->front()).expires;
    if (!next || t < *next) next = t;
  }
  return next;
}

}  // namespace gw::core
