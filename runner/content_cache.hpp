#pragma once
// Downloaded content, cached in fixed windows (one Range request each) in a byte-bounded LRU.
// Keys carry the content's updated timestamp and size from its info, so an updated content gets
// new keys and is never served stale.
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

#include "base/keyed_hash.hpp"

namespace gw::runner {

class content_cache {
 public:
  explicit content_cache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  const std::string* find(const std::string& key);
  void store(const std::string& key, std::string bytes);
  void set_max_bytes(std::size_t max_bytes);

  std::size_t bytes() const { return bytes_; }
  std::size_t size() const { return entries_.size(); }

 private:
  struct entry {
    std::string bytes;
    std::list<std::string>::iterator lru;
  };
  void evict();

  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  // Keyed hash: vendor, model and content id come from the client's Uri-Path.
  std::unordered_map<std::string, entry, base::string_hash, std::equal_to<>> entries_;
  std::list<std::string> lru_;  // front: most recently used
};

}  // namespace gw::runner
