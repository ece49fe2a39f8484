#include "runner/content_cache.hpp"

namespace gw::runner {

const std::string* content_cache::find(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return &it->second.bytes;
}

void content_cache::store(const std::string& key, std::string bytes) {
  if (bytes.size() > max_bytes_) return;  // would evict everything and still not fit
  if (auto it = entries_.find(key); it != entries_.end()) {
    bytes_ -= it->second.bytes.size();
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
  bytes_ += bytes.size();
  lru_.push_front(key);
  entries_.emplace(key, entry{std::move(bytes), lru_.begin()});
  evict();
}

void content_cache::set_max_bytes(std::size_t max_bytes) {
  max_bytes_ = max_bytes;
  evict();
}

void content_cache::evict() {
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    auto it = entries_.find(lru_.back());
    bytes_ -= it->second.bytes.size();
    entries_.erase(it);
    lru_.pop_back();
  }
}

}  // namespace gw::runner
