#pragma once
// Which (CIK, alias) pairs exist, as the RPC `lookup` last said: positive answers for `ttl`,
// negative ones for `negative_ttl`. Bounded; the oldest entry goes first when full.
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

#include "base/keyed_hash.hpp"
#include "gateway/core/clock.hpp"

namespace gw::translate {

struct alias_cache_options {
  core::duration ttl = std::chrono::minutes(5);
  core::duration negative_ttl = std::chrono::seconds(30);
  std::size_t max_entries = 100000;
};

class alias_cache {
 public:
  explicit alias_cache(alias_cache_options options) : options_(options) {}

  // nullopt when unknown or expired.
  std::optional<bool> find(const std::string& cik, const std::string& alias, core::time_point now);
  void store(const std::string& cik, const std::string& alias, bool exists, core::time_point now);
  void forget_cik(const std::string& cik);
  void set_options(alias_cache_options options) { options_ = options; }
  std::size_t size() const { return entries_.size(); }

 private:
  struct entry {
    bool exists;
    core::time_point expires;
    std::list<std::string>::iterator order;
  };
  static std::string key(const std::string& cik, const std::string& alias) {
    return cik + '\0' + alias;
  }

  alias_cache_options options_;
  // Keyed hash: CIKs and aliases are the client's to choose (base/keyed_hash.hpp).
  std::unordered_map<std::string, entry, base::string_hash, std::equal_to<>> entries_;
  std::list<std::string> order_;
};

}  // namespace gw::translate
