#pragma once
// Duplicate detection (RFC 7252 §4.5): remembers each request by (peer, MID) with the reply to
// send again.
//
// Real Exosite clients reuse Message IDs for different requests (CoAPExample: always 0x37;
// ExositeReady SDK: every NON is MID 1), so an entry also holds a fingerprint of the request
// (everything but the MID): a datagram is a duplicate only when the fingerprint matches too.
// Otherwise it is a new request that replaces the entry: a MID names the latest message seen
// with it from that peer.
//
// Two stores with budgets of their own, so that reads can never push writes out:
//   unsafe (POST, PUT, DELETE, ...): kept until the expiry the caller gives (its dedup window)
//     whatever the load. A running request reserves room for its reply; when the budget cannot
//     take another, insert() fails and the caller refuses the NEW request (5.03): forgetting an
//     old one instead would let its retransmission run twice. Evicted only when a reply is
//     larger than its reservation or the budget shrinks (a reload); those evictions are counted
//     and their age reported (take_unsafe_eviction_age).
//   safe (GET, FETCH): running again changes nothing (RFC 7252 §5.1, RFC 8132 §2), so they are
//     kept while running (copies join) and then only for the short replay window the caller
//     sets with the answer; when full, the oldest answered ones go first.
// An entry is gone from `expires` on: find() never returns one past its expiry.
#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/coap/message.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/deadline_queue.hpp"
#include "gateway/core/peer.hpp"
#include "gateway/core/source_limits.hpp"

namespace gw::core {

using request_id = std::uint64_t;

struct mid_key {
  core::peer peer;
  std::uint16_t mid = 0;
  friend bool operator==(const mid_key&, const mid_key&) = default;
};

struct mid_key_hash {
  std::size_t operator()(const mid_key& k) const noexcept {
    return static_cast<std::size_t>(base::keyed_mix(k.peer.hash(), k.mid));
  }
};

// Keyed hash (base/keyed_hash.hpp) of a datagram with its Message ID bytes left out. Keyed, so
// that a client cannot make two different requests with one fingerprint and have the second
// answered with the first one's reply.
std::uint64_t request_fingerprint(std::span<const std::uint8_t> datagram);

class dedup_cache {
 public:
  enum class kind : std::uint8_t { safe, unsafe };

  struct entry {
    std::uint64_t fingerprint = 0;
    request_id id = 0;
    dedup_cache::kind kind = kind::unsafe;
    bool answered = false;
    coap::bytes reply;  // empty while in progress, unless an empty ACK was sent
    time_point arrived;
    time_point expires;
    std::size_t reserved = 0;            // reply bytes held back while running (unsafe)
    std::size_t charged = 0;             // what the entry counts against its store's budget
    std::list<mid_key>::iterator order;  // in its store's answered list, once answered
    std::uint64_t deadline = 0;          // its one queued expiry, cancelled when it goes
  };

  // `max_bytes` is split: a quarter for safe requests, the rest for unsafe ones.
  explicit dedup_cache(std::size_t max_bytes) { set_max_bytes(max_bytes); }

  // The entry for this key if it holds the same request and has not expired, else nullptr.
  entry* find(const mid_key& key, std::uint64_t fingerprint, time_point now);
  // The same for the request whose datagram is `datagram`: fingerprinted only when the key has
  // an entry (most requests' keys have none).
  entry* find(const mid_key& key, std::span<const std::uint8_t> datagram, time_point now);
  // Records a new request, replacing any entry with the same key. False when its store cannot
  // take it: for safe requests, full of running ones or at a limit of source_limits; for unsafe
  // ones, whenever the budget is reached (nothing is evicted to make room). `reply_reserve`: the
  // largest reply expected, reserved while an unsafe request runs.
  bool insert(const mid_key& key, std::uint64_t fingerprint, request_id id, kind k, time_point now,
              time_point expires, std::size_t reply_reserve);
  // Stores the bytes to resend for a duplicate. Once `answered`, a safe request is kept only
  // `replay_window` longer (from now: a later copy never slides it). Ignored when the entry now
  // belongs to another request (the client reused the MID meanwhile).
  void set_reply(const mid_key& key, request_id id, coap::bytes reply, bool answered,
                 time_point now, duration replay_window);

  // Drops the entry of request `id` now, as if it had never been recorded (ignored when the
  // key now belongs to another request).
  void forget(const mid_key& key, request_id id);
  // Drops whatever entry the key has: a request that is not recorded still takes its MID over
  // from the one before (as insert does).
  void drop(const mid_key& key);

  void expire(time_point now);

  // Answered unsafe requests still within their window at `now`, with their replies: what a
  // restart carries over (state_snapshot.hpp). Put back with insert() and set_reply().
  struct answered_request {
    mid_key key;
    std::uint64_t fingerprint = 0;
    coap::bytes reply;
    time_point arrived;
    time_point expires;
  };
  std::vector<answered_request> answered_unsafe(time_point now) const;
  // Exact: an entry's expiry is cancelled when it is erased or replaced, so a busy cache does
  // not wake its owner for entries already gone.
  std::optional<time_point> next_expiry() const { return deadlines_.next(); }
  // Queued expiries: one per entry.
  std::size_t queued_expiries() const { return deadlines_.size(); }

  std::size_t size() const { return entries_.size(); }
  std::size_t bytes() const { return stores_[0].bytes + stores_[1].bytes; }
  std::size_t bytes(kind k) const { return store_of(k).bytes; }
  std::size_t max_bytes(kind k) const { return store_of(k).max; }
  // Unsafe entries evicted before their expiry: a late retransmission of those runs again.
  std::uint64_t evictions() const { return store_of(kind::unsafe).evictions; }
  std::uint64_t safe_evictions() const { return store_of(kind::safe).evictions; }
  // The age at `now` of the youngest unsafe entry evicted since the last call, if any.
  std::optional<duration> take_unsafe_eviction_age(time_point now) {
    auto arrived = std::exchange(youngest_evicted_, {});
    if (!arrived) return std::nullopt;
    return now - *arrived;
  }
  // The two tiers of per-client limits on safe entries still running (source_limits.hpp);
  // none when null. Not owned; outlives the cache.
  void set_source_limits(source_limits* limits) { limits_ = limits; }
  // Safe entries whose answer has not come yet.
  std::size_t safe_running() const { return safe_entries_; }
  // Applies at once: a smaller budget evicts answered entries, oldest answer first.
  void set_max_bytes(std::size_t max_bytes);

  static constexpr std::size_t overhead = 160;  // node, key, list link: an estimate

 private:
  using map = std::unordered_map<mid_key, entry, mid_key_hash>;
  struct store {
    std::size_t max = 0;
    std::size_t bytes = 0;
    std::uint64_t evictions = 0;
    std::list<mid_key> answered;  // answer order
  };
  struct armed {
    mid_key key;
    request_id id = 0;  // a deadline of a replaced entry is ignored
  };

  store& store_of(kind k) { return stores_[k == kind::safe ? 0 : 1]; }
  const store& store_of(kind k) const { return stores_[k == kind::safe ? 0 : 1]; }
  void erase(map::iterator it);
  // The entry at `it` if it is live and holds the request with `fingerprint`.
  entry* live(map::iterator it, std::uint64_t fingerprint, time_point now);
  // Evicts answered entries of `k`, oldest answer first, until `needed` more bytes fit.
  bool make_room(kind k, std::size_t needed);

  store stores_[2];
  map entries_;
  source_limits* limits_ = nullptr;
  source_counts safe_counts_;  // running safe entries per source and per address
  std::size_t safe_entries_ = 0;
  deadline_queue<armed> deadlines_;
  std::optional<time_point> youngest_evicted_;  // arrival of the youngest unsafe one evicted
};

}  // namespace gw::core
