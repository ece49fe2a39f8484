#pragma once
// Which (CIK, alias) pairs exist, as the RPC `lookup` last said: positive answers for `ttl`,
// negative ones for `negative_ttl`. Bounded; the oldest entry goes first when full.
#include <optional>
#include <string>

#include "gateway/core/clock.hpp"
#include "runner/expiring_map.hpp"

namespace gw::runner {

struct alias_cache_options {
  core::duration ttl = std::chrono::minutes(5);
  core::duration negative_ttl = std::chrono::seconds(30);
  std::size_t max_entries = 100000;
};

class alias_cache {
 public:
  explicit alias_cache(alias_cache_options options)
      : options_(options), entries_(options.max_entries) {}

  // nullopt when unknown or expired.
  std::optional<bool> find(const std::string& cik, const std::string& alias, core::time_point now);
  void store(const std::string& cik, const std::string& alias, bool exists, core::time_point now);
  void forget_cik(const std::string& cik);
  void set_options(alias_cache_options options);
  std::size_t size() const { return entries_.size(); }

 private:
  alias_cache_options options_;
  expiring_map<bool> entries_;  // "<cik>\0<alias>"
};

}  // namespace gw::runner
