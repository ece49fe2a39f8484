#include "gateway/core/observe_registry.hpp"

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

std::size_t observe_registry::relation_key_hash::operator()(const relation_key& k) const noexcept {
  std::size_t h = peer_hash{}(k.peer);
  for (auto b : k.token) h = h * 131 + b;
  return h;
}

observe_registry::registration observe_registry::on_register(const peer& p,
                                                             const coap::bytes& token,
                                                             const std::string& resource,
                                                             const coap::message& response,
                                                             time_point now) {
  registration out;
  if (auto it = relations_.find({p, token}); it != relations_.end()) {
    auto& o = observations_.at(it->second);
    if (o.resource == resource) {
      // RFC 7641 §4.1: the same token again refreshes the relation.
      resources_.at(resource).latest = content_of(response);
      o.seq = (o.seq + 1) & seq_mask;
      o.last_sent = now;
      o.stale = false;
      refresh_.push(now + options_.max_age, it->second);
      out.observe = o.seq;
      return out;
    }
    out.abandoned = erase(it->second);
  }

  auto clients = per_client_.find(p);
  const bool new_resource = !resources_.contains(resource);
  if (observations_.size() >= options_.max_observers ||
      (clients != per_client_.end() && clients->second >= options_.max_observers_per_client) ||
      (new_resource && resources_.size() >= options_.max_resources))
    return out;

  const auto id = next_id_++;
  observation o{p, token, resource, options_.initial_sequence & seq_mask, false, false, now};
  observations_.emplace(id, std::move(o));
  relations_.emplace(relation_key{p, token}, id);
  ++per_client_[p];
  auto& r = resources_[resource];
  r.latest = content_of(response);
  r.observers.insert(id);
  refresh_.push(now + options_.max_age, id);
  out.observe = options_.initial_sequence & seq_mask;
  out.first = new_resource;
  return out;
}

std::optional<std::string> observe_registry::remove(const peer& p, const coap::bytes& token) {
  auto it = relations_.find({p, token});
  if (it == relations_.end()) return std::nullopt;
  return erase(it->second);
}

std::optional<std::string> observe_registry::remove(observation_id id) {
  if (!observations_.contains(id)) return std::nullopt;
  return erase(id);
}

std::optional<std::string> observe_registry::erase(observation_id id) {
  auto it = observations_.find(id);
  auto& o = it->second;
  relations_.erase({o.peer, o.token});
  if (auto c = per_client_.find(o.peer); c != per_client_.end() && --c->second == 0)
    per_client_.erase(c);
  std::optional<std::string> last;
  auto r = resources_.find(o.resource);
  r->second.observers.erase(id);
  if (r->second.observers.empty()) {
    last = o.resource;
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

std::vector<observe_registry::notification> observe_registry::on_change(const std::string& resource,
                                                                        coap::message content,
                                                                        time_point now) {
  std::vector<notification> out;
  auto r = resources_.find(resource);
  if (r == resources_.end()) return out;
  r->second.latest = content_of(content);
  for (auto id : r->second.observers) {
    auto& o = observations_.at(id);
    if (o.in_flight)
      o.stale = true;
    else
      out.push_back(make(id, o, now));
  }
  return out;
}

std::vector<observe_registry::notification> observe_registry::on_final(const std::string& resource,
                                                                       coap::message content) {
  std::vector<notification> out;
  auto r = resources_.find(resource);
  if (r == resources_.end()) return out;
  auto ids = r->second.observers;
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

std::vector<std::string> observe_registry::clear() {
  std::vector<std::string> out;
  for (auto& [name, r] : resources_) out.push_back(name);
  observations_.clear();
  relations_.clear();
  resources_.clear();
  per_client_.clear();
  refresh_ = {};
  return out;
}

}  // namespace gw::core
