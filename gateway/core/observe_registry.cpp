#include "gateway/core/observe_registry.hpp"

#include <functional>
#include <string_view>

namespace gw::core {
namespace {

constexpr std::uint32_t seq_mask = 0xFFFFFF;  // RFC 7641 §3.2: 24-bit sequence numbers
constexpr std::uint32_t half_range = 1u << 23;

// The representation as it goes into notifications: everything but per-exchange options.
coap::message content_of(const coap::message& response) {
  coap::message m;
  m.code = response.code;
  for (const auto& o : response.options) {
    if (o.number == coap::opt::observe || o.number == coap::opt::block2 ||
        o.number == coap::opt::block1 || o.number == coap::opt::size2 ||
        o.number == coap::opt::max_age)
      continue;
    m.options.push_back(o);
  }
  m.payload = response.payload;
  return m;
}

}  // namespace

bool is_fresher(std::uint32_t v1, time_point t1, std::uint32_t v2, time_point t2) {
  return (v1 < v2 && v2 - v1 < half_range) || (v1 > v2 && v1 - v2 > half_range) ||
         t2 > t1 + std::chrono::seconds(128);
}

std::size_t observe_hash::operator()(const resource_key& k) const noexcept {
  const std::size_t h = std::hash<std::string>{}(k.cik);
  return h ^ (std::hash<std::string>{}(k.alias) + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2));
}

std::size_t observe_hash::operator()(const observer_key& k) const noexcept {
  const std::size_t h = peer_hash{}(k.peer);
  const std::string_view token(reinterpret_cast<const char*>(k.token.data()), k.token.size());
  return h ^ (std::hash<std::string_view>{}(token) + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2));
}

observe_registry::registration observe_registry::on_register(const peer& p,
                                                             const coap::bytes& token,
                                                             const resource_key& resource,
                                                             const coap::message& response,
                                                             time_point now) {
  registration out;
  auto r = resources_.find(resource);
  if (r != resources_.end()) {
    if (auto it = r->second.observers.find({p, token}); it != r->second.observers.end()) {
      // RFC 7641 §4.1: the same client and token on the same resource again: the entry is
      // kept and refreshed, and its sequence keeps increasing.
      auto& o = observations_.at(it->second);
      r->second.latest = content_of(response);
      o.seq = (o.seq + 1) & seq_mask;
      o.last_sent = now;
      o.stale = false;
      refresh_.push(now + options_.max_age, it->second);
      out.id = it->second;
      out.observe = o.seq;
      return out;
    }
  }

  auto clients = per_client_.find(p);
  const bool new_resource = r == resources_.end();
  if (observations_.size() >= options_.max_observers ||
      (clients != per_client_.end() && clients->second >= options_.max_observers_per_client) ||
      (new_resource && resources_.size() >= options_.max_resources))
    return out;

  const auto id = next_id_++;
  observation o{p, token, resource, options_.initial_sequence & seq_mask, false, false, now};
  observations_.emplace(id, std::move(o));
  ++per_client_[p];
  if (new_resource) r = resources_.emplace(resource, resource_state{}).first;
  r->second.latest = content_of(response);
  r->second.observers.emplace(observer_key{p, token}, id);
  refresh_.push(now + options_.max_age, id);
  out.id = id;
  out.observe = options_.initial_sequence & seq_mask;
  out.first = new_resource;
  return out;
}

std::optional<resource_key> observe_registry::remove(const peer& p, const coap::bytes& token,
                                                     const resource_key& resource) {
  auto r = resources_.find(resource);
  if (r == resources_.end()) return std::nullopt;
  auto it = r->second.observers.find({p, token});
  if (it == r->second.observers.end()) return std::nullopt;
  return erase(it->second);
}

std::optional<resource_key> observe_registry::remove(observation_id id) {
  if (!observations_.contains(id)) return std::nullopt;
  return erase(id);
}

std::optional<resource_key> observe_registry::erase(observation_id id) {
  auto it = observations_.find(id);
  auto& o = it->second;
  if (auto c = per_client_.find(o.peer); c != per_client_.end() && --c->second == 0)
    per_client_.erase(c);
  std::optional<resource_key> last;
  auto r = resources_.find(o.resource);
  r->second.observers.erase({o.peer, o.token});
  if (r->second.observers.empty()) {
    last = std::move(o.resource);  // o is erased below
    resources_.erase(r);
  }
  observations_.erase(it);
  return last;
}

observe_registry::notification observe_registry::make(observation_id id, observation& o,
                                                      time_point now) {
  notification n{id, o.peer, resources_.at(o.resource).latest};
  o.seq = (o.seq + 1) & seq_mask;
  o.in_flight = true;
  o.stale = false;
  o.last_sent = now;
  n.message.token = o.token;
  n.message.set_uint_option(coap::opt::observe, o.seq);
  // One byte on the wire: libexositecoap reads Max-Age only when it is one byte long.
  n.message.set_uint_option(coap::opt::max_age,
                            static_cast<std::uint64_t>(options_.max_age.count()));
  refresh_.push(now + options_.max_age, id);
  return n;
}

std::vector<observe_registry::notification> observe_registry::on_change(
    const resource_key& resource, coap::message content, time_point now) {
  std::vector<notification> out;
  auto r = resources_.find(resource);
  if (r == resources_.end()) return out;
  r->second.latest = content_of(content);
  for (const auto& [who, id] : r->second.observers) {
    auto& o = observations_.at(id);
    if (o.in_flight)
      o.stale = true;
    else
      out.push_back(make(id, o, now));
  }
  return out;
}

std::vector<observe_registry::notification> observe_registry::on_final(const resource_key& resource,
                                                                       coap::message content) {
  std::vector<notification> out;
  auto r = resources_.find(resource);
  if (r == resources_.end()) return out;
  std::vector<observation_id> ids;
  for (const auto& [who, id] : r->second.observers) ids.push_back(id);
  for (auto id : ids) {
    auto& o = observations_.at(id);
    notification n{id, o.peer, content_of(content)};
    n.message.token = o.token;
    out.push_back(std::move(n));
    erase(id);
  }
  return out;
}

std::optional<observe_registry::notification> observe_registry::on_acked(observation_id id,
                                                                         time_point now) {
  auto it = observations_.find(id);
  if (it == observations_.end()) return std::nullopt;
  auto& o = it->second;
  o.in_flight = false;
  // A newer value waited, or the Max-Age refresh fell due while this one was in flight.
  if (!o.stale && o.last_sent + options_.max_age > now) return std::nullopt;
  return make(id, o, now);
}

std::vector<observe_registry::notification> observe_registry::on_timer(time_point now) {
  std::vector<notification> out;
  for (auto id : refresh_.take_due(now)) {
    auto it = observations_.find(id);
    if (it == observations_.end()) continue;
    auto& o = it->second;
    // A stale heap entry (a later notification re-armed it), or one still being retransmitted:
    // the in-flight one refreshes the client's Max-Age when it lands.
    if (o.last_sent + options_.max_age > now || o.in_flight) continue;
    out.push_back(make(id, o, now));
  }
  return out;
}

std::vector<resource_key> observe_registry::clear() {
  std::vector<resource_key> out;
  for (auto& [key, r] : resources_) out.push_back(key);
  observations_.clear();
  resources_.clear();
  per_client_.clear();
  refresh_ = {};
  return out;
}

}  // namespace gw::core
