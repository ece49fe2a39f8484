#pragma once
// Observe relations (RFC 7641) of one worker: who observes which resource, their sequence
// numbers, which notification is in flight and whether a newer value waits behind it. The
// registry decides; the endpoint sends. Holds the latest representation once per resource, whole
// (never a block of it: each observer gets the first block at its own size when the endpoint
// sends, RFC 7959 §2.6), so an observer costs a few dozen bytes and a slow observer never builds
// a queue: it only gets the newest value.
//
// RFC 7641 §4.1: the server keeps one list of observers per resource, each entry identified by
// the client endpoint and the token. So a relation is (resource, peer, token): one client with
// an empty token can observe two dataports at once, and ending one leaves the other.
//
// Notifications the registry decides to send collect in an outbox that the endpoint drains with
// take_notifications() after each call: a removal or an ACK can free a client's in-flight slot
// for another of its relations, whichever call caused it. A change is not fanned out in
// on_change: its observers are visited as take_notifications asks for more, so that the first
// of ten thousand observers gets its notification before the last one has been looked at.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/coap/message.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/deadline_queue.hpp"
#include "gateway/core/peer.hpp"
#include "gateway/core/resource_key.hpp"
#include "gateway/core/source_limits.hpp"
#include "gateway/core/state_snapshot.hpp"

namespace gw::core {

using observation_id = std::uint64_t;

struct observe_options {
  std::size_t max_observers = 100000;
  std::size_t max_observers_per_client = 64;
  std::size_t max_resources = 1000;   // one upstream long-poll each
  std::chrono::seconds max_age{120};  // at most 255: one byte on the wire
  // CON notifications awaiting their ACK towards one client, over all its relations (each has
  // at most one). RFC 7252 §4.7: NSTART is 1; RFC 7641 §4.5.1 leaves congestion control of
  // notifications to the server. Others wait their turn, keeping only their newest value.
  std::size_t max_in_flight_per_client = 1;
  // RFC 7641 §4.5 leaves each notification's type to the server. A relation registered with a
  // NON request gets NON notifications (libcoap's rule: the client chose to do without ACKs,
  // which on a radio link are as costly as the notification), but only once its client's
  // round-trip time is known from the ACK of a CON notification, at most one per round trip
  // (§4.5.1), and a CON again whenever the relation has sent none for max_age, so a client that
  // went away is found out within minutes (§4.5 asks for one at least every 24 hours). A
  // relation's first notification is therefore CON, which also proves the registration did
  // not come from a spoofed address. False: every notification is CON.
  bool non_notifications = true;
};

// RFC 7641 §3.4: whether notification (v2, t2) is newer than (v1, t1), with 24-bit wrap-around
// and the 128-second rule.
bool is_fresher(std::uint32_t v1, time_point t1, std::uint32_t v2, time_point t2);

// Observe numbers come from the wall clock, in ticks of 1/1024 s since the Unix epoch, so that a
// new relation (the same token registered again, another instance after a failover, a restart)
// starts above what the client saw from the old one (RFC 7641 §3.4, §4.4). A client compares
// numbers in 24-bit serial arithmetic and, past 128 s, takes any number; so the clock must gain
// fewer than 2^23 ticks in 128 s (any tick longer than 15.3 us), and a relation whose numbers
// ran ahead of the clock (more than one notification per tick) must fall back behind it quickly.
// At 1/1024 s, 2^23 ticks are 2.3 hours (the numbers wrap every 4.6 hours, which the serial
// comparison absorbs), and a relation runs ahead only above 1,024 acknowledged notifications a
// second, which one CON in flight at a time rules out on any real link.
inline constexpr std::uint32_t observe_ticks_per_second = 1024;
// The clock's value for `now` (steady) plus `wall_offset` (system time minus steady time).
std::uint32_t observe_clock(time_point now, duration wall_offset);
// The number for the next message of a relation: `clock`, or last + 1 when `clock` is not
// fresher than `last` (several messages within a tick, or the wall clock stepped back).
std::uint32_t next_observe_number(std::optional<std::uint32_t> last, std::uint32_t clock);

// An observer within one resource's list: the client endpoint and its token (RFC 7641 §4.1).
struct observer_key {
  core::peer peer;
  coap::bytes token;
  friend bool operator==(const observer_key&, const observer_key&) = default;
};

// The registry's one hash, for both of its keys: keyed (base/keyed_hash.hpp), since clients
// choose tokens, aliases and (within limits) addresses.
struct observe_hash {
  std::size_t operator()(const resource_key& k) const noexcept;
  std::size_t operator()(const observer_key& k) const noexcept;
};

class observe_registry {
 public:
  struct notification {
    observation_id id;
    core::peer peer;
    // The whole representation as last changed, shared by every notification of that change;
    // message() adds this relation's fields, and the endpoint cuts the first block at `szx`
    // when it does not fit (RFC 7959 §2.6).
    std::shared_ptr<const coap::message> content;
    coap::bytes token;
    std::optional<std::uint32_t> observe;  // none in a final notification (RFC 7641 §3.2)
    std::optional<std::uint32_t> max_age;  // seconds; none in a final notification
    std::uint8_t szx = 6;
    // NON (observe_options::non_notifications): sent once, never retransmitted; the client's
    // slot frees one round trip later instead of at an ACK.
    bool confirmable = true;
    // Complete but for type and MID.
    coap::message message() const;
  };

  explicit observe_registry(observe_options options) : options_(options) {}

  struct registration {
    observation_id id = 0;
    // The Observe value for the response, or nullopt when a limit refuses the relation (the
    // client then gets a plain 2.05, RFC 7641 §4.1).
    std::optional<std::uint32_t> observe;
    bool first = false;  // the resource had no observer before: start watching it
  };

  // A GET with Observe 0 on `resource` was answered 2.xx with `representation` (whole, before
  // any block was cut from it): add (peer, token) to the resource's list, or refresh the entry
  // it already has there (RFC 7641 §4.1: the sequence keeps increasing). `szx` is the block
  // size negotiated for this observer's notifications; `non` that the registration was a NON
  // request.
  registration on_register(const peer& p, const coap::bytes& token, const resource_key& resource,
                           coap::message representation, std::uint8_t szx, time_point now,
                           bool non = false);
  // Observe 1 (or a non-2.xx answer to a registration) on `resource` from (peer, token), an RST
  // or a CON that was never acknowledged: the relation ends. Returns the resource when it lost
  // its last observer.
  std::optional<resource_key> remove(const peer& p, const coap::bytes& token,
                                     const resource_key& resource, time_point now);
  std::optional<resource_key> remove(observation_id id, time_point now);

  // A new representation of `resource`: notifications for every observer that can take one now;
  // the others get the newest value once their in-flight one is acknowledged or replaced. The
  // observers are visited by take_notifications, as it is asked for more; a newer change of the
  // same resource before they all were restarts the visit.
  void on_change(const resource_key& resource, coap::message content, time_point now);
  // A final error for every observer of `resource` (no Observe option), who are all removed.
  // Sent whatever is in flight: the relation is over.
  std::vector<notification> on_final(const resource_key& resource, coap::message content,
                                     time_point now);
  // The peer acknowledged its in-flight notification: frees its slot; a newer value that waited
  // (or a Max-Age refresh that fell due) goes out as soon as the client has a free slot.
  // `round_trip` is the time from its only transmission to the ACK (none after a
  // retransmission, which makes the sample ambiguous): it feeds the client's smoothed RTT.
  void on_acked(observation_id id, time_point now,
                std::optional<duration> round_trip = std::nullopt);
  // The endpoint sent the NON notification `id` with `mid`: an RST naming that MID rejects the
  // relation (RFC 7641 §3.6). Only the client's latest NON is remembered; a client that rejects
  // an older one rejects the next as well.
  void sent_non(observation_id id, std::uint16_t mid);
  // The relation whose latest NON notification to `p` had `mid`, if any.
  std::optional<observation_id> non_with_mid(const peer& p, std::uint16_t mid) const;
  // The in-flight notification of `id` is due for retransmission and a newer value waits: the
  // notification that replaces it (RFC 7641 §4.5.2); it stays in flight. nullopt otherwise.
  std::optional<notification> take_replacement(observation_id id, time_point now);
  // Whether `id` exists and has a notification in flight (a retransmission is still wanted).
  bool in_flight(observation_id id) const;
  // Max-Age refresh: observers who heard nothing for max_age get the current value again. Paced
  // NON notifications whose round trip has passed free their client's slot.
  void on_timer(time_point now);
  std::optional<time_point> next_deadline() const;
  // What to send: the outbox, topped up to `max` (when it holds fewer) by visiting the
  // observers of changes not yet fanned out. Empty when there is nothing more.
  std::vector<notification> take_notifications(std::size_t max = SIZE_MAX);
  // Changes whose observers have not all been visited yet.
  bool fanning_out() const { return !walks_.empty(); }

  // Every relation ends at once (shutdown); returns the resources that had observers.
  std::vector<resource_key> clear();
  std::vector<resource_key> resource_keys() const;

  // A restart (state_snapshot.hpp): every relation and every resource's latest representation
  // as records, times in wall-clock milliseconds.
  void snapshot(worker_snapshot& out) const;
  // Re-creates a relation from a record, under the limits of on_register (a snapshot is
  // untrusted input): `observe` and `first` as on_register would return them, but no number is
  // issued yet. Its Max-Age refresh falls due max_age after `last_sent` (at once when past).
  registration restore(const observer_record& r, const coap::message& latest, time_point last_sent,
                       time_point now);
  duration wall_offset() const { return wall_offset_; }

  std::size_t observers() const { return observations_.size(); }
  std::size_t resources() const { return resources_.size(); }
  // Armed Max-Age deadlines: at most one per observation, whatever the notification rate.
  std::size_t armed_deadlines() const { return refresh_.size(); }
  void set_options(observe_options options) { options_ = options; }
  // The two tiers of per-client limits (source_limits.hpp), beside max_observers_per_client;
  // none when null. Not owned; outlives the registry.
  void set_source_limits(source_limits* limits) { limits_ = limits; }
  // System time minus steady time, from the server: the epoch of Observe numbers.
  void set_wall_offset(duration offset) { wall_offset_ = offset; }

 private:
  static constexpr time_point unarmed = time_point::max();
  struct resource_state;
  struct client_state;
  struct observation {
    core::peer peer;
    coap::bytes token;
    resource_key resource;
    // Its entry in resources_ (stable: map nodes do not move), so that a notification does
    // not hash the CIK to find the representation.
    resource_state* state = nullptr;
    client_state* client = nullptr;    // its peer's entry in clients_, likewise
    std::optional<std::uint32_t> seq;  // the last Observe value sent
    std::uint8_t szx = 6;
    bool in_flight = false;
    bool stale = false;   // a newer value (or a refresh) waits for this observer
    bool queued = false;  // in its client's waiting list
    bool non = false;     // registered with a NON request
    time_point last_sent;
    time_point last_con;              // its last CON notification, or its registration
    time_point refresh_at = unarmed;  // its one entry in refresh_
    deadline_queue<observation_id>::handle pace = 0;  // a NON holding the slot, in paced_
  };
  // A relation in its resource's list, with where it lives in observations_ (stable), so that
  // a change walks its observers without looking each one up.
  struct member {
    observation_id id;
    observation* relation;
  };
  struct resource_state {
    std::shared_ptr<const coap::message> latest;
    std::unordered_map<observer_key, member, observe_hash> observers;
  };
  struct client_state {
    std::size_t observations = 0;
    std::size_t in_flight = 0;
    duration srtt{};  // zero until an ACK gave a sample
    observation_id last_non = 0;
    std::uint16_t last_non_mid = 0;
    // FIFO of relations with a value to send: at most max_observers_per_client, so a vector
    // (an empty std::deque costs over 500 bytes per client).
    std::vector<observation_id> waiting;
  };

  // `confirmable`: the notification replaces a CON in flight, whose retransmission it takes
  // over, so it is one whatever the relation's type.
  notification make(observation_id id, observation& o, time_point now, bool confirmable = false);
  // The slot of `id`'s in-flight notification is free: acknowledged, or its NON paced out.
  void settle(observation_id id, observation& o, time_point now);
  // Sends now if the client has a free slot, else queues the relation (once).
  void offer(observation_id id, observation& o, time_point now);
  // A slot of `client` freed: the longest-waiting relations go out.
  void release(client_state& client, time_point now);
  std::uint32_t next_seq(observation& o, time_point now);
  void arm(observation_id id, observation& o, time_point at);
  void disarm(observation_id id, observation& o);

  observe_options options_;
  source_limits* limits_ = nullptr;
  source_counts counts_;  // observations per source and per address
  duration wall_offset_{};
  std::optional<std::uint32_t> high_;  // the highest Observe number issued (serial order)
  observation_id next_id_ = 1;
  std::uint64_t removals_ = 0;  // relations ended so far (remove, clear): see walk
  std::unordered_map<observation_id, observation> observations_;
  std::unordered_map<resource_key, resource_state, observe_hash> resources_;
  std::unordered_map<peer, client_state, peer_hash> clients_;
  // One entry per observation that has a refresh armed, at or before its due time: a
  // notification leaves it in place and on_timer moves it on, so memory stays flat and a change
  // costs no tree operation per observer whatever the write rate.
  std::set<std::pair<time_point, observation_id>> refresh_;
  deadline_queue<observation_id> paced_;
  std::vector<notification> outbox_;
  // A change being fanned out: its observers as they were at on_change, visited in order. The
  // relations are reached through their pointers while no relation has ended since (removals_
  // has not moved); after that, each is looked up first.
  struct walk {
    resource_key resource;
    std::vector<member> members;
    std::size_t next = 0;
    time_point at;
    std::uint64_t removals = 0;
  };
  std::deque<walk> walks_;
};

}  // namespace gw::core
