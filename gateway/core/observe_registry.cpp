#include "gateway/core/observe_registry.hpp"

#include <algorithm>

#include "base/keyed_hash.hpp"
#include "gateway/coap/codec.hpp"

namespace gw::core {
namespace {

constexpr std::uint32_t seq_mask = 0xFFFFFF;  // RFC 7641 §3.2: 24-bit sequence numbers
constexpr std::uint32_t half_range = 1u << 23;

// RFC 7641 §3.4, the number part: v2 is newer than v1 in 24-bit serial arithmetic.
bool number_fresher(std::uint32_t v1, std::uint32_t v2) {
  return (v1 < v2 && v2 - v1 < half_range) || (v1 > v2 && v1 - v2 > half_range);
}

// The representation as it goes into notifications: everything but per-exchange options.
// Shared, read-only, by every notification of one change (the fan-out copies no message).
std::shared_ptr<const coap::message> content_of(coap::message m) {
  // Only code, content options and payload: type, MID and token are each notification's own.
  m.type = coap::type::con;
  m.mid = 0;
  m.token.clear();
  std::erase_if(m.options, [](const coap::option& o) {
    return o.number == coap::opt::observe || o.number == coap::opt::block2 ||
           o.number == coap::opt::block1 || o.number == coap::opt::size2 ||
           o.number == coap::opt::max_age;
  });
  return std::make_shared<const coap::message>(std::move(m));
}

}  // namespace

bool is_fresher(std::uint32_t v1, time_point t1, std::uint32_t v2, time_point t2) {
  return number_fresher(v1, v2) || t2 > t1 + std::chrono::seconds(128);
}

std::uint32_t observe_clock(time_point now, duration wall_offset) {
  const auto since_epoch = now.time_since_epoch() + wall_offset;
  const auto ticks =
      std::chrono::duration_cast<std::chrono::duration<std::int64_t, std::ratio<1, 1024>>>(
          since_epoch)
          .count();
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(ticks)) & seq_mask;
}

std::uint32_t next_observe_number(std::optional<std::uint32_t> last, std::uint32_t clock) {
  clock &= seq_mask;
  if (!last || number_fresher(*last, clock)) return clock;
  return (*last + 1) & seq_mask;
}

coap::message observe_registry::notification::message() const {
  coap::message m = *content;
  m.token = token;
  if (observe) m.set_uint_option(coap::opt::observe, *observe);
  if (max_age) m.set_uint_option(coap::opt::max_age, *max_age);
  return m;
}

std::size_t observe_hash::operator()(const resource_key& k) const noexcept {
  return static_cast<std::size_t>(base::keyed_hasher{}.field(k.cik).field(k.alias).finish());
}

std::size_t observe_hash::operator()(const observer_key& k) const noexcept {
  base::keyed_hasher h;
  return static_cast<std::size_t>(hash_append_key(h, k.peer).field(k.token).finish());
}

std::uint32_t observe_registry::next_seq(observation& o, time_point now) {
  const auto clock = observe_clock(now, wall_offset_);
  std::optional<std::uint32_t> floor = o.seq;
  // A new relation starts above the highest number issued here when that is at most a second
  // ahead of the clock: a client that deregisters and registers the same token again within
  // one tick (or right after a burst ran its numbers ahead) still sees a fresher number. The
  // bound keeps a registration storm from running every number ahead of other instances'.
  if (!floor && high_ && ((*high_ - clock) & seq_mask) < observe_ticks_per_second) floor = high_;
  o.seq = next_observe_number(floor, clock);
  if (!high_ || number_fresher(*high_, *o.seq)) high_ = o.seq;
  return *o.seq;
}

void observe_registry::arm(observation_id id, observation& o, time_point at) {
  disarm(id, o);
  o.refresh_at = at;
  refresh_.emplace(at, id);
}

void observe_registry::disarm(observation_id id, observation& o) {
  if (o.refresh_at == unarmed) return;
  refresh_.erase({o.refresh_at, id});
  o.refresh_at = unarmed;
}

std::optional<time_point> observe_registry::next_deadline() const {
  auto next = paced_.next();
  if (!refresh_.empty() && (!next || refresh_.begin()->first < *next))
    next = refresh_.begin()->first;
  return next;
}

observe_registry::registration observe_registry::on_register(
    const peer& p, const coap::bytes& token, const resource_key& resource,
    coap::message representation, std::uint8_t szx, time_point now, bool non) {
  registration out;
  auto r = resources_.find(resource);
  if (r != resources_.end()) {
    if (auto it = r->second.observers.find({p, token}); it != r->second.observers.end()) {
      // RFC 7641 §4.1: the same client and token on the same resource again: the entry is
      // kept and refreshed, and its sequence keeps increasing. A notification in flight stays
      // in flight; a value that waited is the one this answer carries.
      const auto [id, relation] = it->second;
      auto& o = *relation;
      r->second.latest = content_of(std::move(representation));
      o.szx = szx;
      o.non = non;
      o.last_sent = now;
      o.stale = false;
      arm(id, o, now + options_.max_age);
      out.id = id;
      out.observe = next_seq(o, now);
      return out;
    }
  }

  auto clients = clients_.find(p);
  const bool new_resource = r == resources_.end();
  if (observations_.size() >= options_.max_observers ||
      (clients != clients_.end() &&
       clients->second.observations >= options_.max_observers_per_client) ||
      (new_resource && resources_.size() >= options_.max_resources))
    return out;
  // Issue #13: per address too, so that the ports of one address cannot take every relation.
  if (limits_ != nullptr && limits_->check(limited::observers, counts_, p)) return out;

  const auto id = next_id_++;
  observation fresh;
  fresh.peer = p;
  fresh.token = token;
  fresh.resource = resource;
  fresh.szx = szx;
  fresh.non = non;
  fresh.last_sent = now;
  fresh.last_con = now;
  auto& o = observations_.emplace(id, std::move(fresh)).first->second;
  o.client = &clients_[p];
  ++o.client->observations;
  counts_.add(p);
  if (new_resource) r = resources_.emplace(resource, resource_state{}).first;
  r->second.latest = content_of(std::move(representation));
  r->second.observers.emplace(observer_key{p, token}, member{id, &o});
  o.state = &r->second;
  arm(id, o, now + options_.max_age);
  out.id = id;
  out.observe = next_seq(o, now);
  out.first = new_resource;
  return out;
}

std::optional<resource_key> observe_registry::remove(const peer& p, const coap::bytes& token,
                                                     const resource_key& resource, time_point now) {
  auto r = resources_.find(resource);
  if (r == resources_.end()) return std::nullopt;
  auto it = r->second.observers.find({p, token});
  if (it == r->second.observers.end()) return std::nullopt;
  return remove(it->second.id, now);
}

std::optional<resource_key> observe_registry::remove(observation_id id, time_point now) {
  auto it = observations_.find(id);
  if (it == observations_.end()) return std::nullopt;
  auto& o = it->second;
  ++removals_;
  disarm(id, o);
  paced_.cancel(o.pace);
  const peer who = o.peer;
  const bool freed_slot = o.in_flight;
  // Through the relation's own pointers: a map is searched only for an entry that goes.
  auto& client = *o.client;
  if (o.queued) std::erase(client.waiting, id);
  if (client.last_non == id) client.last_non = 0;
  if (freed_slot) --client.in_flight;
  const bool client_gone = --client.observations == 0;
  if (client_gone) clients_.erase(who);
  counts_.remove(who);

  std::optional<resource_key> last;
  auto& state = *o.state;
  state.observers.erase({o.peer, o.token});
  if (state.observers.empty()) {
    last = std::move(o.resource);  // o is erased below
    resources_.erase(*last);
  }
  observations_.erase(it);
  if (freed_slot && !client_gone) release(client, now);
  return last;
}

observe_registry::notification observe_registry::make(observation_id id, observation& o,
                                                      time_point now, bool confirmable) {
  notification n{id, o.peer, o.state->latest, o.token, next_seq(o, now),
                 // One byte on the wire: libexositecoap reads Max-Age only when it is one
                 // byte long.
                 static_cast<std::uint32_t>(options_.max_age.count()), o.szx};
  // observe_options::non_notifications: NON only with a round trip to pace by, and a CON at
  // least every max_age (which also makes every Max-Age refresh a CON).
  const auto srtt = o.client->srtt;
  n.confirmable = confirmable || !options_.non_notifications || !o.non ||
                  srtt <= duration::zero() || now - o.last_con >= options_.max_age;
  if (n.confirmable) {
    o.last_con = now;
  } else {
    // RFC 7641 §4.5.1: one NON per round trip. The slot stays taken until then, so a newer
    // value waits (only the newest is kept) as it would behind a CON.
    paced_.cancel(o.pace);
    o.pace = paced_.push(now + srtt, id);
  }
  if (!o.in_flight) ++o.client->in_flight;
  o.in_flight = true;
  o.stale = false;
  o.last_sent = now;
  // The refresh falls due max_age after the last notification. Its entry is not moved for
  // every notification (a tree erase and insert per observer per change): it stays where it
  // is, and on_timer moves it on when it comes up early.
  if (o.refresh_at == unarmed) arm(id, o, now + options_.max_age);
  return n;
}

void observe_registry::offer(observation_id id, observation& o, time_point now) {
  auto& client = *o.client;
  if (client.in_flight < std::max<std::size_t>(1, options_.max_in_flight_per_client)) {
    outbox_.push_back(make(id, o, now));
    return;
  }
  o.stale = true;
  if (!o.queued) {
    o.queued = true;
    client.waiting.push_back(id);
  }
}

void observe_registry::release(client_state& client, time_point now) {
  const auto limit = std::max<std::size_t>(1, options_.max_in_flight_per_client);
  while (client.in_flight < limit && !client.waiting.empty()) {
    const auto id = client.waiting.front();
    client.waiting.erase(client.waiting.begin());
    auto& o = observations_.at(id);  // remove() takes a removed relation off the list
    o.queued = false;
    outbox_.push_back(make(id, o, now));
  }
}

void observe_registry::on_change(const resource_key& resource, coap::message content,
                                 time_point now) {
  auto r = resources_.find(resource);
  if (r == resources_.end()) return;
  r->second.latest = content_of(std::move(content));
  // An earlier change still being fanned out: the new walk visits every observer, and those
  // the old one reached have theirs in flight, so they get this value after it.
  std::erase_if(walks_, [&](const walk& w) { return w.resource == resource; });
  walk w{resource, {}, 0, now, removals_};
  w.members.reserve(r->second.observers.size());
  for (const auto& [who, m] : r->second.observers) w.members.push_back(m);
  walks_.push_back(std::move(w));
}

std::vector<observe_registry::notification> observe_registry::take_notifications(std::size_t max) {
  while (outbox_.size() < max && !walks_.empty()) {
    auto& w = walks_.front();
    while (outbox_.size() < max && w.next < w.members.size()) {
      auto [id, relation] = w.members[w.next++];
      if (removals_ != w.removals) {
        auto it = observations_.find(id);
        if (it == observations_.end()) continue;
        relation = &it->second;
      }
      auto& o = *relation;
      // In flight: replaces the one in flight at its next retransmission, or follows its ACK.
      if (o.in_flight || o.queued)
        o.stale = true;
      else
        offer(id, o, w.at);
    }
    if (w.next == w.members.size()) walks_.pop_front();
  }
  return std::exchange(outbox_, {});
}

std::vector<observe_registry::notification> observe_registry::on_final(const resource_key& resource,
                                                                       coap::message content,
                                                                       time_point now) {
  std::vector<notification> out;
  auto r = resources_.find(resource);
  if (r == resources_.end()) return out;
  std::erase_if(walks_, [&](const walk& w) { return w.resource == resource; });
  std::vector<observation_id> ids;
  for (const auto& [who, m] : r->second.observers) ids.push_back(m.id);
  const auto content_only = content_of(std::move(content));
  for (auto id : ids) {
    auto& o = observations_.at(id);
    out.push_back(
        notification{id, o.peer, content_only, o.token, std::nullopt, std::nullopt, o.szx});
    remove(id, now);
  }
  // A slot freed above may have let out another relation of this resource, gone by now.
  std::erase_if(outbox_, [this](const notification& n) { return !observations_.contains(n.id); });
  return out;
}

void observe_registry::on_acked(observation_id id, time_point now,
                                std::optional<duration> round_trip) {
  auto it = observations_.find(id);
  if (it == observations_.end()) return;
  auto& o = it->second;
  if (round_trip) {
    // RFC 6298 §2.3's smoothing (alpha 1/8); the first sample is taken as it is.
    auto& srtt = o.client->srtt;
    srtt = srtt <= duration::zero() ? std::max(*round_trip, duration{1})
                                    : srtt + (*round_trip - srtt) / 8;
  }
  settle(id, o, now);
}

void observe_registry::settle(observation_id id, observation& o, time_point now) {
  if (!o.in_flight) return;
  o.in_flight = false;
  --o.client->in_flight;
  // A newer value waited, or the Max-Age refresh fell due while this one was in flight: it
  // queues behind the client's other waiting relations, which the freed slot serves first.
  if (o.stale || o.last_sent + options_.max_age <= now) {
    o.stale = true;
    o.queued = true;
    o.client->waiting.push_back(id);
  }
  release(*o.client, now);
}

std::optional<observe_registry::notification> observe_registry::take_replacement(observation_id id,
                                                                                 time_point now) {
  auto it = observations_.find(id);
  if (it == observations_.end() || !it->second.in_flight || !it->second.stale) return std::nullopt;
  return make(id, it->second, now, true);
}

void observe_registry::sent_non(observation_id id, std::uint16_t mid) {
  auto it = observations_.find(id);
  if (it == observations_.end()) return;
  it->second.client->last_non = id;
  it->second.client->last_non_mid = mid;
}

std::optional<observation_id> observe_registry::non_with_mid(const peer& p,
                                                             std::uint16_t mid) const {
  auto it = clients_.find(p);
  if (it == clients_.end() || it->second.last_non == 0 || it->second.last_non_mid != mid)
    return std::nullopt;
  return it->second.last_non;
}

bool observe_registry::in_flight(observation_id id) const {
  auto it = observations_.find(id);
  return it != observations_.end() && it->second.in_flight;
}

void observe_registry::on_timer(time_point now) {
  for (const auto id : paced_.take_due(now)) {
    auto& o = observations_.at(id);  // remove() cancels
    o.pace = 0;
    settle(id, o, now);
  }
  while (!refresh_.empty() && refresh_.begin()->first <= now) {
    const auto id = refresh_.begin()->second;
    refresh_.erase(refresh_.begin());
    auto& o = observations_.at(id);  // remove() disarms
    o.refresh_at = unarmed;
    if (const auto due = o.last_sent + options_.max_age; due > now) {
      arm(id, o, due);  // notified since it was placed
      continue;
    }
    // One still being retransmitted refreshes the client's Max-Age when it lands; on_acked
    // sends the refresh if it is due by then. One waiting for a slot is sent when it gets one.
    if (o.in_flight || o.queued) continue;
    offer(id, o, now);
  }
}

std::vector<resource_key> observe_registry::clear() {
  std::vector<resource_key> out;
  for (auto& [key, r] : resources_) out.push_back(key);
  ++removals_;
  observations_.clear();
  resources_.clear();
  clients_.clear();
  counts_ = {};
  refresh_.clear();
  paced_ = {};
  outbox_.clear();
  walks_.clear();
  return out;
}

std::vector<resource_key> observe_registry::resource_keys() const {
  std::vector<resource_key> out;
  out.reserve(resources_.size());
  for (const auto& [key, r] : resources_) out.push_back(key);
  return out;
}

void observe_registry::snapshot(worker_snapshot& out) const {
  const auto wall_ms = [this](time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch() +
                                                                 wall_offset_)
        .count();
  };
  for (const auto& [id, o] : observations_) {
    out.observers.push_back(
        observer_record{o.peer, o.token, o.resource, o.seq, o.szx, wall_ms(o.last_sent), false});
  }
  for (const auto& [key, r] : resources_) {
    resource_record rec;
    rec.resource = key;
    rec.latest = coap::encode(*r.latest);
    out.resources.push_back(std::move(rec));
  }
}

observe_registry::registration observe_registry::restore(const observer_record& rec,
                                                         const coap::message& latest,
                                                         time_point last_sent, time_point now) {
  registration out;
  auto r = resources_.find(rec.resource);
  const bool new_resource = r == resources_.end();
  if (!new_resource && r->second.observers.contains({rec.peer, rec.token})) return out;
  auto clients = clients_.find(rec.peer);
  if (observations_.size() >= options_.max_observers ||
      (clients != clients_.end() &&
       clients->second.observations >= options_.max_observers_per_client) ||
      (new_resource && resources_.size() >= options_.max_resources) ||
      (limits_ != nullptr && limits_->check(limited::observers, counts_, rec.peer)))
    return out;

  const auto id = next_id_++;
  observation fresh;
  fresh.peer = rec.peer;
  fresh.token = rec.token;
  fresh.resource = rec.resource;
  fresh.szx = std::min<std::uint8_t>(rec.szx, 6);
  fresh.last_sent = std::min(last_sent, now);
  // RFC 7641 §3.4: the next number must be fresher than the last one the client saw; the
  // clock has moved on while the gateway was down, and next_seq() adds one when it has not.
  if (rec.observe) fresh.seq = *rec.observe & seq_mask;
  auto& o = observations_.emplace(id, std::move(fresh)).first->second;
  o.client = &clients_[rec.peer];
  ++o.client->observations;
  counts_.add(rec.peer);  // remove() takes it off again, as for a relation made by on_register
  if (new_resource) {
    r = resources_.emplace(rec.resource, resource_state{}).first;
    r->second.latest = content_of(latest);
  }
  r->second.observers.emplace(observer_key{rec.peer, rec.token}, member{id, &o});
  o.state = &r->second;
  if (o.seq && (!high_ || number_fresher(*high_, *o.seq))) high_ = o.seq;
  arm(id, o, std::max(o.last_sent + options_.max_age, now));
  out.id = id;
  out.observe = o.seq.value_or(0);
  out.first = new_resource;
  return out;
}

}  // namespace gw::core
