#pragma once
// Observe relations (RFC 7641) of one worker: who observes which resource, their sequence
// numbers, which notification is in flight and whether a newer value waits behind it. The
// registry decides; the endpoint sends. Holds the latest representation once per resource, so an
// observer costs a few dozen bytes and a slow observer never builds a queue: it only gets the
// newest value once its previous notification is acknowledged.
//
// RFC 7641 §4.1: the server keeps one list of observers per resource, each entry identified by
// the client endpoint and the token. So a relation is (resource, peer, token): one client with
// an empty token can observe two dataports at once, and ending one leaves the other.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/coap/message.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/deadline_queue.hpp"
#include "gateway/core/peer.hpp"
#include "gateway/core/resource_key.hpp"

namespace gw::core {

using observation_id = std::uint64_t;

struct observe_options {
  std::size_t max_observers = 100000;
  std::size_t max_observers_per_client = 64;
  std::size_t max_resources = 1000;    // one upstream long-poll each
  std::chrono::seconds max_age{120};   // at most 255: one byte on the wire
  std::uint32_t initial_sequence = 0;  // the Observe value of a registration (tests: near 2^24)
};

// RFC 7641 §3.4: whether notification (v2, t2) is newer than (v1, t1), with 24-bit wrap-around
// and the 128-second rule.
bool is_fresher(std::uint32_t v1, time_point t1, std::uint32_t v2, time_point t2);

// An observer within one resource's list: the client endpoint and its token (RFC 7641 §4.1).
struct observer_key {
  core::peer peer;
  coap::bytes token;
  friend bool operator==(const observer_key&, const observer_key&) = default;
};

// The registry's one hash, for both of its keys. std::hash over the strings for now; kept in one
// struct so that a keyed hash (clients choose tokens and aliases) replaces it in one place.
struct observe_hash {
  std::size_t operator()(const resource_key& k) const noexcept;
  std::size_t operator()(const observer_key& k) const noexcept;
};

class observe_registry {
 public:
  struct notification {
    observation_id id;
    core::peer peer;
    coap::message message;  // complete but for type and MID
  };

  explicit observe_registry(observe_options options) : options_(options) {}

  struct registration {
    observation_id id = 0;
    // The Observe value for the response, or nullopt when a limit refuses the relation (the
    // client then gets a plain 2.05, RFC 7641 §4.1).
    std::optional<std::uint32_t> observe;
    bool first = false;  // the resource had no observer before: start watching it
  };

  // A GET with Observe 0 on `resource` was answered 2.xx: add (peer, token) to the resource's
  // list, or refresh the entry it already has there (RFC 7641 §4.1: the sequence keeps
  // increasing).
  registration on_register(const peer& p, const coap::bytes& token, const resource_key& resource,
                           const coap::message& response, time_point now);
  // Observe 1 (or a non-2.xx answer to a registration) on `resource` from (peer, token), an RST
  // or a CON that was never acknowledged: the relation ends. Returns the resource when it lost
  // its last observer.
  std::optional<resource_key> remove(const peer& p, const coap::bytes& token,
                                     const resource_key& resource);
  std::optional<resource_key> remove(observation_id id);

  // A new representation of `resource`: notifications for every observer that can take one now;
  // the others get it as soon as their in-flight notification is acknowledged.
  std::vector<notification> on_change(const resource_key& resource, coap::message content,
                                      time_point now);
  // A final error for every observer of `resource` (no Observe option), who are all removed.
  std::vector<notification> on_final(const resource_key& resource, coap::message content);
  // The peer acknowledged its in-flight notification: the newer value it missed, if any.
  std::optional<notification> on_acked(observation_id id, time_point now);
  // Max-Age refresh: observers who heard nothing for max_age get the current value again.
  std::vector<notification> on_timer(time_point now);
  std::optional<time_point> next_deadline() const { return refresh_.next(); }

  // Every relation ends at once (shutdown); returns the resources that had observers.
  std::vector<resource_key> clear();

  std::size_t observers() const { return observations_.size(); }
  std::size_t resources() const { return resources_.size(); }
  void set_options(observe_options options) { options_ = options; }

 private:
  struct observation {
    core::peer peer;
    coap::bytes token;
    resource_key resource;
    std::uint32_t seq = 0;
    bool in_flight = false;
    bool stale = false;  // a newer value waits until the in-flight one is acknowledged
    time_point last_sent;
  };
  struct resource_state {
    coap::message latest;
    std::unordered_map<observer_key, observation_id, observe_hash> observers;
  };

  notification make(observation_id id, observation& o, time_point now);
  std::optional<resource_key> erase(observation_id id);

  observe_options options_;
  observation_id next_id_ = 1;
  std::unordered_map<observation_id, observation> observations_;
  std::unordered_map<resource_key, resource_state, observe_hash> resources_;
  std::unordered_map<peer, std::size_t, peer_hash> per_client_;
  deadline_queue<observation_id> refresh_;
};

}  // namespace gw::core
