#include "runner/alias_cache.hpp"

namespace gw::runner {

namespace {
std::string key(const std::string& cik, const std::string& alias) {
  return cik + '\0' + alias;
}
}  // namespace

std::optional<bool> alias_cache::find(const std::string& cik, const std::string& alias,
                                      core::time_point now) {
  if (const bool* exists = entries_.find(key(cik, alias), now)) return *exists;
  return std::nullopt;
}

void alias_cache::store(const std::string& cik, const std::string& alias, bool exists,
                        core::time_point now) {
  auto ttl = exists ? options_.ttl : options_.negative_ttl;
  if (ttl <= core::duration::zero()) return;
  entries_.store(key(cik, alias), exists, now + ttl);
}

void alias_cache::forget_cik(const std::string& cik) {
  const auto prefix = cik + '\0';
  entries_.erase_keys_if([&](const std::string& k) { return k.starts_with(prefix); });
}

void alias_cache::set_options(alias_cache_options options) {
  options_ = options;
  entries_.set_max_entries(options.max_entries);
}

}  // namespace gw::runner
