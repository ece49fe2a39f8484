#pragma once
// A bounded map whose entries expire: what the runner remembers of upstream answers (alias
// look-ups, content infos). When full, the least recently stored entry goes first, one at a time,
// so a burst of new keys never empties the whole map at once.
#include <cstddef>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "base/keyed_hash.hpp"
#include "gateway/core/clock.hpp"

namespace gw::runner {

template <class Value>
class expiring_map {
 public:
  explicit expiring_map(std::size_t max_entries) : max_entries_(max_entries) {}

  // The value, or nullptr when unknown or expired (an expired entry is dropped here).
  const Value* find(const std::string& key, core::time_point now) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    if (it->second.expires <= now) {
      erase(it);
      return nullptr;
    }
    return &it->second.value;
  }

  void store(std::string key, Value value, core::time_point expires) {
    if (max_entries_ == 0) return;
    if (auto it = entries_.find(key); it != entries_.end()) {
      // Stored again (every Read refreshes its alias): updated and moved to the back of the
      // order in place, without freeing and making the key, its node and its list entry.
      it->second.value = std::move(value);
      it->second.expires = expires;
      order_.splice(order_.end(), order_, it->second.order);
      return;
    }
    while (entries_.size() >= max_entries_) erase(entries_.find(order_.front()));
    order_.push_back(key);
    entries_.emplace(std::move(key), entry{std::move(value), expires, std::prev(order_.end())});
  }

  template <class Predicate>
  void erase_keys_if(Predicate pred) {
    for (auto it = order_.begin(); it != order_.end();) {
      auto next = std::next(it);
      if (pred(*it)) erase(entries_.find(*it));
      it = next;
    }
  }

  void set_max_entries(std::size_t max_entries) {
    max_entries_ = max_entries;
    while (entries_.size() > max_entries_) erase(entries_.find(order_.front()));
  }
  std::size_t size() const { return entries_.size(); }

 private:
  struct entry {
    Value value;
    core::time_point expires;
    std::list<std::string>::iterator order;
  };
  // Keyed hash: the keys hold CIKs and aliases, which clients choose.
  using map = std::unordered_map<std::string, entry, base::string_hash, std::equal_to<>>;

  void erase(typename map::iterator it) {
    order_.erase(it->second.order);
    entries_.erase(it);
  }

  std::size_t max_entries_;
  map entries_;
  std::list<std::string> order_;  // front: stored longest ago
};

}  // namespace gw::runner
