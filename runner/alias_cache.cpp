#include "translate/alias_cache.hpp"

namespace gw::translate {

std::optional<bool> alias_cache::find(const std::string& cik, const std::string& alias,
                                      core::time_point now) {
  auto it = entries_.find(key(cik, alias));
  if (it == entries_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    order_.erase(it->second.order);
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.exists;
}

void alias_cache::store(const std::string& cik, const std::string& alias, bool exists,
                        core::time_point now) {
  if (options_.max_entries == 0) return;
  auto ttl = exists ? options_.ttl : options_.negative_ttl;
  if (ttl <= core::duration::zero()) return;
  auto k = key(cik, alias);
  if (auto it = entries_.find(k); it != entries_.end()) {
    order_.erase(it->second.order);
    entries_.erase(it);
  }
  while (entries_.size() >= options_.max_entries) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(k);
  entries_.emplace(std::move(k), entry{exists, now + ttl, std::prev(order_.end())});
}

void alias_cache::forget_cik(const std::string& cik) {
  const auto prefix = cik + '\0';
  for (auto it = order_.begin(); it != order_.end();) {
    if (it->starts_with(prefix)) {
      entries_.erase(*it);
      it = order_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace gw::translate
