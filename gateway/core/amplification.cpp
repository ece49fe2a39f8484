#include "gateway/core/amplification.hpp"

#include <algorithm>
#include <string_view>

namespace gw::core {
namespace {

std::uint64_t echo_mac(const base::hash_key& key, const peer& p, std::uint32_t seconds) {
  base::keyed_hasher h(key);
  hash_append(h, p);
  return h.integer(seconds).finish();
}

std::uint32_t whole_seconds(time_point t) {
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

// A key of its own for Echo values, derived from the process key under a label, so that a MAC
// never equals a table hash of the same bytes.
base::hash_key echo_key() {
  const auto& k = base::process_hash_key();
  constexpr std::string_view label0 = "coap-gateway echo k0";
  constexpr std::string_view label1 = "coap-gateway echo k1";
  return {base::keyed_hasher(k).text(label0).finish(), base::keyed_hasher(k).text(label1).finish()};
}

}  // namespace

std::vector<std::uint8_t> make_echo_value(const base::hash_key& key, const peer& to,
                                          time_point now) {
  const auto t = whole_seconds(now);
  const auto mac = echo_mac(key, to, t);
  std::vector<std::uint8_t> out;
  out.reserve(echo_value_size);
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(t >> (8 * i)));
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(mac >> (8 * i)));
  return out;
}

bool check_echo_value(const base::hash_key& key, const peer& from,
                      std::span<const std::uint8_t> value, time_point now, duration lifetime) {
  if (value.size() != echo_value_size) return false;
  std::uint32_t t = 0;
  for (std::size_t i = 0; i < 4; ++i) t = t << 8 | value[i];
  std::uint64_t mac = 0;
  for (std::size_t i = 4; i < echo_value_size; ++i) mac = mac << 8 | value[i];
  const auto current = whole_seconds(now);
  // From the future, or older than its lifetime (whole seconds, rounded in the client's
  // disfavour): stale (RFC 9175 §2.3).
  if (t > current) return false;
  if (std::chrono::seconds(current - t) >= lifetime) return false;
  // Not a timing oracle worth closing: the MAC is checked once per datagram the source sends,
  // and each guess costs it a request.
  return mac == echo_mac(key, from, t);
}

amplification_guard::amplification_guard(amplification_options options)
    : options_(options), echo_key_(echo_key()) {}

std::uint64_t send_budget(std::uint64_t received, std::uint64_t sent, unsigned factor) {
  const std::uint64_t limit = received * factor;
  return limit > sent ? limit - sent : 0;
}

std::uint8_t szx_within(std::size_t allowance, std::size_t overhead) {
  for (std::uint8_t szx = 6; szx > 0; --szx) {
    if ((std::size_t{16} << szx) + overhead <= allowance) return szx;
  }
  return 0;
}

void amplification_guard::erase(list::iterator it) {
  if (it->verified) --verified_count_;
  index_.erase(it->who);
  lru_.erase(it);
}

void amplification_guard::on_received(const peer& from, std::size_t bytes, time_point now) {
  if (options_.factor == 0) return;
  auto found = index_.find(from);
  if (found != index_.end() && lapsed(*found->second, now)) {
    erase(found->second);  // idle too long: a stranger again (a NAT may have reused the port)
    found = index_.end();
  }
  if (found == index_.end()) {
    while (!lru_.empty() && lru_.size() >= std::max<std::size_t>(options_.max_sources, 1))
      erase(lru_.begin());
    source fresh;
    fresh.who = from;
    fresh.last_seen = now;
    lru_.push_back(fresh);
    found = index_.emplace(from, std::prev(lru_.end())).first;
  }
  auto it = found->second;
  it->received += bytes;
  it->last_seen = now;
  lru_.splice(lru_.end(), lru_, it);
}

const amplification_guard::source* amplification_guard::find(const peer& p, time_point now) const {
  auto found = index_.find(p);
  if (found == index_.end() || lapsed(*found->second, now)) return nullptr;
  return &*found->second;
}

std::optional<std::uint64_t> amplification_guard::allowance(const peer& to, time_point now) const {
  if (options_.factor == 0) return std::nullopt;
  const auto* s = find(to, now);
  if (s == nullptr) return 0;
  if (s->verified) return std::nullopt;
  return send_budget(s->received, s->sent, options_.factor);
}

bool amplification_guard::try_send(const peer& to, std::size_t bytes, time_point now) {
  if (options_.factor == 0) return true;
  auto found = index_.find(to);
  source* s = found == index_.end() || lapsed(*found->second, now) ? nullptr : &*found->second;
  if (s != nullptr && s->verified) return true;
  if (s == nullptr || send_budget(s->received, s->sent, options_.factor) < bytes) {
    counters_.held_bytes += bytes;
    ++counters_.skipped_sends;
    return false;
  }
  s->sent += bytes;
  return true;
}

amplification_guard::source* amplification_guard::find_mutable(const peer& p, time_point now) {
  auto found = index_.find(p);
  if (found == index_.end() || lapsed(*found->second, now)) return nullptr;
  return &*found->second;
}

bool amplification_guard::verify(const peer& who, verified_by how, time_point now) {
  if (options_.factor == 0) return true;
  auto found = index_.find(who);
  if (found == index_.end() || lapsed(*found->second, now)) {
    on_received(who, 0, now);
    found = index_.find(who);
  }
  auto it = found->second;
  it->last_seen = now;
  lru_.splice(lru_.end(), lru_, it);
  if (it->verified) return true;
  const bool by_guessable_mid = how == verified_by::ack || how == verified_by::rst;
  if (by_guessable_mid && it->locked_until && now < *it->locked_until) return false;
  it->verified = true;
  ++verified_count_;
  ++counters_.verified;
  switch (how) {
    case verified_by::ack:
      ++counters_.verified_by_ack;
      break;
    case verified_by::rst:
      ++counters_.verified_by_rst;
      break;
    case verified_by::echo:
      ++counters_.verified_by_echo;
      break;
    case verified_by::secure:
      break;
  }
  return true;
}

void amplification_guard::on_unmatched(const peer& from, time_point now) {
  if (options_.factor == 0) return;
  auto* s = find_mutable(from, now);
  if (s == nullptr || s->verified) return;  // a verified source has nothing left to guess
  if (s->unmatched == 0 || now - s->unmatched_since >= options_.unmatched_window) {
    s->unmatched = 0;
    s->unmatched_since = now;
  }
  if (++s->unmatched < std::max(options_.max_unmatched, 1u)) return;
  if (!s->locked_until || now >= *s->locked_until) ++counters_.lockouts;
  s->locked_until = now + options_.lockout;
  s->unmatched = 0;
}

void amplification_guard::on_echo(const peer& from, std::span<const std::uint8_t> value,
                                  time_point now) {
  if (options_.factor == 0) return;
  auto* s = find_mutable(from, now);
  if (s == nullptr) return;  // on_received comes first; a lapsed entry was renewed there
  s->echo_capable = true;
  if (!s->verified && check_echo_value(echo_key_, from, value, now, options_.echo_lifetime))
    verify(from, verified_by::echo, now);
}

bool amplification_guard::echo_capable(const peer& who, time_point now) const {
  const auto* s = find(who, now);
  return s != nullptr && s->echo_capable;
}

bool amplification_guard::verified(const peer& who, time_point now) const {
  if (options_.factor == 0) return true;
  const auto* s = find(who, now);
  return s != nullptr && s->verified;
}

void amplification_guard::expire(time_point now) {
  while (!lru_.empty() && lapsed(lru_.front(), now)) erase(lru_.begin());
}

amplification_stats amplification_guard::stats() const {
  auto s = counters_;
  s.verified_sources = verified_count_;
  s.sources = lru_.size();
  return s;
}

}  // namespace gw::core
