#pragma once
// Block-wise state of one kind, keyed by block_key. RFC 7959 leaves both how long a server
// keeps such state and how much of it to the implementation (§2.4, §2.5); this table holds
// what the block layer's limits are made of: entries expire `lifetime` after their last
// activity, and the table counts entries per client and the bytes it holds.
//
// Deadlines are lazy: refreshing or erasing an entry leaves its deadline in the queue, and only
// the head of the queue is kept honest (settle_head), so next_expiry() is exactly the time the
// next entry expires, at an amortised O(log n) per change.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>

#include "gateway/core/block_key.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/deadline_queue.hpp"
#include "gateway/core/source_limits.hpp"

namespace gw::core {

template <class Value>
class transfer_table {
 public:
  struct entry {
    Value value;
    time_point expires;
    std::size_t bytes = 0;  // what the entry counts against a memory bound (see footprint)
    std::uint64_t generation = 0;
  };

  // What an entry holding `value_bytes` under `key` counts against a memory bound: the value,
  // the key and an estimate of the node and deadline overhead.
  static std::size_t footprint(const block_key& key, std::size_t value_bytes) {
    return value_bytes + 2 * key.material.size() + entry_overhead;
  }

  // nullptr when absent or expired by `now` (an expired entry is dropped here, so a request
  // never sees state that on_timer merely has not got round to yet).
  entry* find(const block_key& key, time_point now) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    if (it->second.expires <= now) {
      erase(it);
      settle_head();
      ++expired_;
      return nullptr;
    }
    return &it->second;
  }

  // Inserts, or replaces the entry with the same key.
  entry& put(const block_key& key, Value value, std::size_t value_bytes, time_point expires) {
    if (auto it = entries_.find(key); it != entries_.end()) erase(it);
    const std::uint64_t generation = next_generation_++;
    const std::size_t bytes = footprint(key, value_bytes);
    auto [it, inserted] =
        entries_.emplace(key, entry{std::move(value), expires, bytes, generation});
    bytes_ += bytes;
    counts_.add(key.peer);
    deadlines_.push(expires, armed{key, generation});
    settle_head();
    return it->second;
  }

  // Moves an entry's expiry (later; time only moves forward).
  void refresh(entry& e, time_point expires) {
    e.expires = expires;
    settle_head();
  }

  // Re-accounts an entry whose value grew or shrank.
  void set_value_bytes(const block_key& key, entry& e, std::size_t value_bytes) {
    bytes_ -= e.bytes;
    e.bytes = footprint(key, value_bytes);
    bytes_ += e.bytes;
  }

  // The bytes freed; nullopt when there was no such entry.
  std::optional<std::size_t> erase(const block_key& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    const std::size_t freed = it->second.bytes;
    erase(it);
    settle_head();
    return freed;
  }

  // Drops every entry idle for its lifetime; returns how many.
  std::size_t expire(time_point now) {
    std::size_t count = 0;
    for (auto& due : deadlines_.take_due(now)) {
      auto it = entries_.find(due.key);
      if (it == entries_.end() || it->second.generation != due.generation) continue;
      if (it->second.expires > now) {
        deadlines_.push(it->second.expires, std::move(due));
        continue;
      }
      erase(it);
      ++count;
    }
    settle_head();
    expired_ += count;
    return count;
  }

  std::optional<time_point> next_expiry() const { return deadlines_.next(); }

  std::size_t count(const peer& p) const { return counts_.of_source(p); }
  // Entries per source and per address, for the two tiers of source_limits.
  const source_counts& counts() const { return counts_; }
  std::size_t size() const { return entries_.size(); }
  std::size_t bytes() const { return bytes_; }
  std::uint64_t expired() const { return expired_; }

 private:
  static constexpr std::size_t entry_overhead = 128;

  using map = std::unordered_map<block_key, entry, block_key_hash>;

  struct armed {
    block_key key;
    std::uint64_t generation = 0;  // a deadline of an erased and re-created entry is ignored
  };

  // Pops deadlines of erased entries off the head of the queue and moves those of refreshed
  // entries to their current expiry, until the head is a deadline that will really expire.
  void settle_head() {
    while (const auto at = deadlines_.next()) {
      bool live = false;
      for (auto& due : deadlines_.take_due(*at)) {
        auto it = entries_.find(due.key);
        if (it == entries_.end() || it->second.generation != due.generation) continue;
        live = live || it->second.expires == *at;
        deadlines_.push(it->second.expires, std::move(due));
      }
      if (live) return;
    }
  }

  void erase(typename map::iterator it) {
    bytes_ -= it->second.bytes;
    counts_.remove(it->first.peer);
    entries_.erase(it);
  }

  map entries_;
  source_counts counts_;
  deadline_queue<armed> deadlines_;
  std::size_t bytes_ = 0;
  std::uint64_t next_generation_ = 1;
  std::uint64_t expired_ = 0;
};

}  // namespace gw::core
