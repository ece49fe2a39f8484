// endpoint's restart support: snapshot, restore and the scale-in ending of observations. Kept
// apart from endpoint.cpp: it only reads and fills the concerns' own stores through their
// public entry points.
#include <algorithm>

#include "gateway/coap/codec.hpp"
#include "gateway/core/endpoint.hpp"

namespace gw::core {
namespace {

std::int64_t to_wall_ms(time_point t, duration wall_offset) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch() + wall_offset)
      .count();
}

time_point from_wall_ms(std::int64_t ms, duration wall_offset) {
  return time_point(std::chrono::duration_cast<duration>(std::chrono::milliseconds(ms)) -
                    wall_offset);
}

bool lower_hex(const std::string& s, std::size_t size) {
  return s.size() == size && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// What translate/ would have built for a registration: a CIK as 40 lower-case hex digits and an
// alias that fits one Uri-Path option (RFC 7252 §5.10: at most 255 bytes).
bool plausible_resource(const resource_key& r) {
  return lower_hex(r.cik, 40) && !r.alias.empty() && r.alias.size() <= 255;
}

bool plausible_peer(const peer& p, std::size_t sockets) {
  return p.socket < sockets && p.port != 0;
}

}  // namespace

worker_snapshot endpoint::snapshot(time_point now) const {
  worker_snapshot s;
  observers_.snapshot(s);
  for (auto& o : s.observers) {
    o.verified = guard_.verified(o.peer, now);
    if (auto left = guard_.allowance(o.peer, now))
      o.budget = static_cast<std::uint32_t>(std::min<std::uint64_t>(*left, UINT32_MAX));
  }
  const auto offset = observers_.wall_offset();
  // A coaps relation cannot outlive its DTLS session, which a restart ends: the client has to
  // handshake again, and an answer restored into a plain peer would go out unencrypted.
  std::erase_if(s.observers, [](const observer_record& o) { return o.peer.via != transport::udp; });
  for (auto& r : dedup_.answered_unsafe(now)) {
    if (r.key.peer.via != transport::udp) continue;
    s.requests.push_back(request_record{r.key.peer, r.key.mid, r.fingerprint, std::move(r.reply),
                                        to_wall_ms(r.arrived, offset),
                                        to_wall_ms(r.expires, offset)});
  }
  return s;
}

restore_stats endpoint::restore(const worker_snapshot& s, std::size_t sockets, time_point now) {
  restore_stats out;
  const auto offset = observers_.wall_offset();
  const auto now_ms = to_wall_ms(now, offset);
  const auto max_age = config_.observe.max_age;
  const auto oldest_ms =
      now_ms -
      std::chrono::duration_cast<std::chrono::milliseconds>(max_age + restore_margin).count();

  // Each resource's latest representation, when it decodes as a success (only 2.xx answers
  // register, RFC 7641 §4.1) and fits what this endpoint would send.
  std::unordered_map<resource_key, coap::message, observe_hash> latest;
  for (const auto& r : s.resources) {
    if (!plausible_resource(r.resource) || r.latest.size() > config_.max_message_size) continue;
    auto m = coap::decode(r.latest);
    if (!m || !m->code.is_success()) continue;
    latest.emplace(r.resource, std::move(*m));
  }

  for (const auto& o : s.observers) {
    auto content = latest.find(o.resource);
    // RFC 7252 §5.3.1: tokens are 0 to 8 bytes; RFC 7959 §2.2: SZX 7 is reserved.
    if (content == latest.end() || !plausible_peer(o.peer, sockets) || o.token.size() > 8 ||
        o.szx > 6 || o.last_sent_ms < oldest_ms || o.last_sent_ms > now_ms + 1000) {
      ++out.observers_dropped;
      continue;
    }
    auto reg = observers_.restore(o, content->second, from_wall_ms(o.last_sent_ms, offset), now);
    if (!reg.observe) {
      ++out.observers_dropped;
      continue;
    }
    ++out.observers;
    // Verification lapses after verified_idle without a datagram, from this restart on.
    if (o.verified)
      guard_.mark_verified(o.peer, now);
    else if (const auto factor = guard_.options().factor; factor > 0) {
      // The budget it had, as bytes received: at most what one full-size request would earn.
      const auto budget = std::min<std::uint64_t>(o.budget, factor * config_.max_message_size);
      guard_.on_received(o.peer, static_cast<std::size_t>((budget + factor - 1) / factor), now);
    }
    if (reg.first) events_.push_back({observe_event::kind::started, o.resource, {}});
  }

  for (const auto& q : s.requests) {
    // Never remembered longer than this endpoint's own window from now, whatever the file says.
    const auto expires = std::min(from_wall_ms(q.expires_ms, offset), now + config_.dedup_window);
    const auto arrived = std::min(from_wall_ms(q.arrived_ms, offset), now);
    const auto reply = coap::decode(q.reply);
    if (expires <= now || !plausible_peer(q.peer, sockets) || q.reply.empty() ||
        q.reply.size() > config_.max_message_size || !reply || reply->mid != q.mid) {
      ++out.requests_dropped;
      continue;
    }
    const mid_key key{q.peer, q.mid};
    const request_id id = next_id_++;
    if (!dedup_.insert(key, q.fingerprint, id, dedup_cache::kind::unsafe, arrived, expires,
                       q.reply.size())) {
      ++out.requests_dropped;  // the budget is full: the new process's limits win
      continue;
    }
    dedup_.set_reply(key, id, q.reply, true, now, config_.replay_window);
    ++out.requests;
  }
  return out;
}

void endpoint::end_observations(const coap::message& content, time_point now) {
  for (const auto& resource : observers_.resource_keys()) notify_final(resource, content, now);
}

}  // namespace gw::core
