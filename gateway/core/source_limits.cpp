#include "gateway/core/source_limits.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <string>

#include "base/keyed_hash.hpp"

namespace gw::core {
namespace {

// RFC 4291 §2.5.5.2: ::ffff:a.b.c.d is an IPv4 address in IPv6 clothing (a dual-stack socket
// reports IPv4 sources so); counted as that IPv4 address, or one host would have two budgets.
bool is_v4_mapped(const std::array<std::uint8_t, 16>& a) {
  return std::all_of(a.begin(), a.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
         a[10] == 0xff && a[11] == 0xff;
}

std::uint64_t hash_address(const address_key& k) {
  base::keyed_hasher h;
  const auto value = h.bytes(k.bits).integer(std::uint8_t{k.v6}).finish();
  return value == 0 ? 1 : value;  // 0 means "not worked out yet"
}

double seconds(duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

address_key address_of(const peer& p) {
  address_key k;
  if (p.v6 && !is_v4_mapped(p.address)) {
    k.v6 = true;
    std::copy_n(p.address.begin(), 8, k.bits.begin());  // the /64
  } else {
    std::copy_n(p.address.begin() + (p.v6 ? 12 : 0), 4, k.bits.begin());
  }
  if (p.address_memo == 0) p.address_memo = hash_address(k);
  // The sanitizer and fuzz trees keep assertions: a field changed after hashing shows there.
  assert(p.address_memo == hash_address(k));
  k.hash = p.address_memo;
  return k;
}

std::size_t address_key_hash::operator()(const address_key& k) const noexcept {
  return static_cast<std::size_t>(k.hash);
}

std::optional<address_prefix> parse_address_prefix(std::string_view text) {
  std::string address(text);
  std::optional<unsigned> length;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    address = std::string(text.substr(0, slash));
    unsigned n = 0;
    const auto digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty())
      return std::nullopt;
    length = n;
  }
  if (address.size() > 2 && address.front() == '[' && address.back() == ']')
    address = address.substr(1, address.size() - 2);
  address_prefix p;
  if (::inet_pton(AF_INET, address.c_str(), p.address.data()) == 1) {
    p.length = length.value_or(32);
    if (p.length > 32) return std::nullopt;
  } else if (::inet_pton(AF_INET6, address.c_str(), p.address.data()) == 1) {
    p.v6 = true;
    p.length = length.value_or(128);
    if (p.length > 128) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return p;
}

std::optional<std::vector<address_prefix>> parse_address_prefixes(std::string_view text,
                                                                  std::string* bad) {
  std::vector<address_prefix> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    auto item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    auto p = parse_address_prefix(item);
    if (!p) {
      if (bad != nullptr) *bad = std::string(item);
      return std::nullopt;
    }
    out.push_back(*p);
  }
  return out;
}

bool prefix_contains(const address_prefix& prefix, const peer& p) {
  const std::uint8_t* bits = p.address.data();
  bool v6 = p.v6;
  if (v6 && !prefix.v6 && is_v4_mapped(p.address)) {
    bits += 12;
    v6 = false;
  }
  if (v6 != prefix.v6) return false;
  const unsigned whole = prefix.length / 8;
  if (!std::equal(prefix.address.begin(), prefix.address.begin() + whole, bits)) return false;
  const unsigned rest = prefix.length % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (prefix.address[whole] & mask) == (bits[whole] & mask);
}

std::string_view to_string(limited what) {
  switch (what) {
    case limited::block1:
      return "block1";
    case limited::observers:
      return "observe";
    case limited::in_flight:
      return "in_flight";
    case limited::safe_dedup:
      return "safe_dedup";
  }
  return "?";
}

std::string_view to_string(limit_tier tier) {
  return tier == limit_tier::source ? "source" : "address";
}

std::size_t tier_limits::of(limited what) const {
  switch (what) {
    case limited::block1:
      return block1_transfers;
    case limited::observers:
      return observers;
    case limited::in_flight:
      return in_flight;
    case limited::safe_dedup:
      return safe_dedup;
  }
  return 0;
}

limit_stats& limit_stats::operator+=(const limit_stats& o) {
  for (std::size_t i = 0; i < limited_count; ++i)
    for (std::size_t t = 0; t < 2; ++t) refused[i][t] += o.refused[i][t];
  for (std::size_t t = 0; t < 2; ++t) {
    rate_dropped[t] += o.rate_dropped[t];
    rate_answered[t] += o.rate_answered[t];
  }
  buckets += o.buckets;
  return *this;
}

template <class Map, class Key>
void source_counts::count_up(Map& map, const Key& key, std::size_t& zeros) {
  auto [it, inserted] = map.try_emplace(key, 0);
  if (it->second++ == 0 && !inserted) --zeros;  // an entry at zero taken up again
}

template <class Map, class Key>
void source_counts::count_down(Map& map, const Key& key, std::size_t& zeros) {
  auto it = map.find(key);
  if (it == map.end() || --it->second != 0) return;
  // Swept when the zeros outnumber the live entries twice and a thousand besides: O(1) per call
  // on average, and the clients that come back (most) find their entry still there.
  if (++zeros > 1024 && zeros > 2 * (map.size() - zeros)) {
    std::erase_if(map, [](const auto& entry) { return entry.second == 0; });
    zeros = 0;
  }
}

void source_counts::add(const peer& p) {
  count_up(sources_, p, source_zeros_);
  count_up(addresses_, address_of(p), address_zeros_);
}

void source_counts::remove(const peer& p) {
  count_down(sources_, p, source_zeros_);
  count_down(addresses_, address_of(p), address_zeros_);
}

std::size_t source_counts::of_source(const peer& p) const {
  auto it = sources_.find(p);
  return it == sources_.end() ? 0 : it->second;
}

std::size_t source_counts::of_address(const peer& p) const {
  auto it = addresses_.find(address_of(p));
  return it == addresses_.end() ? 0 : it->second;
}

bool source_limits::address_tier_applies(const peer& p) const {
  if (!options_.address_tier) return false;
  return std::none_of(options_.trusted_proxies.begin(), options_.trusted_proxies.end(),
                      [&](const address_prefix& t) { return prefix_contains(t, p); });
}

std::optional<limit_tier> source_limits::refuses(limited what, const source_counts& counts,
                                                 const peer& p) const {
  if (counts.of_source(p) >= options_.per_source.of(what)) return limit_tier::source;
  if (address_tier_applies(p) && counts.of_address(p) >= options_.per_address.of(what))
    return limit_tier::address;
  return std::nullopt;
}

std::optional<limit_tier> source_limits::check(limited what, const source_counts& counts,
                                               const peer& p) {
  auto tier = refuses(what, counts, p);
  if (tier) note_refusal(what, *tier);
  return tier;
}

void source_limits::note_refusal(limited what, limit_tier tier) {
  ++stats_.refused[static_cast<std::size_t>(what)][static_cast<std::size_t>(tier)];
}

double refill(double tokens, time_point at, time_point now, const tier_limits& tier) {
  const double burst = std::max(1.0, tier.burst);
  if (now <= at) return std::min(tokens, burst);
  return std::min(burst, tokens + tier.rate * seconds(now - at));
}

template <class Key, class Hash>
source_limits::bucket& source_limits::bucket_table<Key, Hash>::get(const Key& key,
                                                                   const tier_limits& tier,
                                                                   time_point now,
                                                                   std::size_t max) {
  if (auto it = index_.find(key); it != index_.end()) {
    lru_.splice(lru_.end(), lru_, it->second);  // most recently used last
    auto& b = it->second->b;
    b.tokens = refill(b.tokens, b.at, now, tier);
    b.at = now;
    return b;
  }
  // Bounded: the least recently used bucket goes, and its source starts again with a full one;
  // the other tier still holds an address that cycles through more sources than fit.
  if (index_.size() >= std::max<std::size_t>(1, max)) {
    index_.erase(lru_.front().key);
    lru_.pop_front();
  }
  lru_.push_back(node{key, bucket{std::max(1.0, tier.burst), now}});
  index_.emplace(key, std::prev(lru_.end()));
  return lru_.back().b;
}

template <class Key, class Hash>
const source_limits::bucket* source_limits::bucket_table<Key, Hash>::find(const Key& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &it->second->b;
}

template <class Key, class Hash>
void source_limits::bucket_table<Key, Hash>::expire(const tier_limits& tier, time_point now) {
  // Least recently used first: once one has not refilled, the later ones have not either
  // (they were used later) unless the rate changed with a reload, which the next pass fixes.
  // A bucket used within the last second stays even when full: a client that keeps asking
  // would otherwise have its bucket dropped and made again between most of its requests.
  constexpr auto linger = std::chrono::seconds(1);
  const double burst = std::max(1.0, tier.burst);
  while (!lru_.empty()) {
    auto& n = lru_.front();
    if (now - n.b.at < linger) return;
    if (tier.rate > 0 && refill(n.b.tokens, n.b.at, now, tier) < burst) return;
    index_.erase(n.key);
    lru_.pop_front();
  }
}

std::optional<limit_tier> source_limits::admit(const peer& p, time_point now) {
  const auto& s = options_.per_source;
  const auto& a = options_.per_address;
  bucket* source = s.rate > 0 ? &source_buckets_.get(p, s, now, options_.max_buckets) : nullptr;
  bucket* address = a.rate > 0 && address_tier_applies(p)
                        ? &address_buckets_.get(address_of(p), a, now, options_.max_buckets)
                        : nullptr;
  // Both or neither: a request one tier refuses costs the other nothing.
  if (source != nullptr && source->tokens < 1) return limit_tier::source;
  if (address != nullptr && address->tokens < 1) return limit_tier::address;
  if (source != nullptr) source->tokens -= 1;
  if (address != nullptr) address->tokens -= 1;
  return std::nullopt;
}

std::uint32_t source_limits::retry_after_s(const peer& p, time_point now) const {
  double wait = 0;
  auto until_one = [&](const bucket* b, const tier_limits& tier) {
    if (b == nullptr || tier.rate <= 0) return;
    const double tokens = refill(b->tokens, b->at, now, tier);
    if (tokens < 1) wait = std::max(wait, (1 - tokens) / tier.rate);
  };
  until_one(source_buckets_.find(p), options_.per_source);
  if (address_tier_applies(p))
    until_one(address_buckets_.find(address_of(p)), options_.per_address);
  // RFC 7252 §5.10.5: whole seconds; RFC 8516 §4: the earliest the client may ask again.
  return static_cast<std::uint32_t>(std::clamp(std::ceil(wait), 1.0, 3600.0));
}

void source_limits::note_rate_refusal(limit_tier tier, bool answered) {
  auto& counter = answered ? stats_.rate_answered : stats_.rate_dropped;
  ++counter[static_cast<std::size_t>(tier)];
}

void source_limits::expire(time_point now) {
  source_buckets_.expire(options_.per_source, now);
  address_buckets_.expire(options_.per_address, now);
}

limit_stats source_limits::stats() const {
  auto s = stats_;
  s.buckets = source_buckets_.size() + address_buckets_.size();
  return s;
}

}  // namespace gw::core
