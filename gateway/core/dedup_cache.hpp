#pragma once
// Duplicate detection (RFC 7252 §4.5): remembers each request by (peer, MID) for
// EXCHANGE_LIFETIME (CON) or NON_LIFETIME (NON), with the reply to send again.
//
// Real Exosite clients reuse Message IDs for different requests (CoAPExample: always 0x37;
// ExositeReady SDK: every NON is MID 1), so an entry also holds a fingerprint of the request
// (everything but the MID): a datagram is a duplicate only when the fingerprint matches too.
// Otherwise it is a new request that replaces the entry.
//
// Memory is bounded by `max_bytes`. When full, the oldest answered entries are evicted first
// (a late retransmission of those would run again, so the eviction is counted); an entry whose
// request is still running is never evicted, and when only those are left the insert fails
// and the caller answers 5.03.
#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>

#include "gateway/coap/message.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/peer.hpp"

namespace gw::core {

using request_id = std::uint64_t;

struct mid_key {
  core::peer peer;
  std::uint16_t mid = 0;
  friend bool operator==(const mid_key&, const mid_key&) = default;
};

struct mid_key_hash {
  std::size_t operator()(const mid_key& k) const noexcept {
    base::keyed_hasher h;
    return static_cast<std::size_t>(hash_append(h, k.peer).integer(k.mid).finish());
  }
};

// Keyed hash (base/keyed_hash.hpp) of a datagram with its Message ID bytes left out. Keyed, so
// that a client cannot make two different requests with one fingerprint and have the second
// answered with the first one's reply.
std::uint64_t request_fingerprint(std::span<const std::uint8_t> datagram);

class dedup_cache {
 public:
  enum class lifetime_class { con, non };

  struct entry {
    std::uint64_t fingerprint = 0;
    request_id id = 0;
    bool answered = false;
    coap::bytes reply;  // empty while in progress, unless an empty ACK was sent
    time_point expires;
    lifetime_class cls = lifetime_class::con;
    std::list<mid_key>::iterator order;
  };

  explicit dedup_cache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // The entry for this key if it holds the same request, else nullptr.
  entry* find(const mid_key& key, std::uint64_t fingerprint);
  // Records a new request, replacing any entry with the same key. False when the cache is
  // full of requests still in progress.
  bool insert(const mid_key& key, std::uint64_t fingerprint, request_id id, lifetime_class cls,
              time_point expires);
  // Stores the bytes to resend for a duplicate. Ignored when the entry now belongs to another
  // request (the client reused the MID meanwhile).
  void set_reply(const mid_key& key, request_id id, coap::bytes reply, bool answered);

  void expire(time_point now);
  std::optional<time_point> next_expiry() const;

  std::size_t size() const { return entries_.size(); }
  std::size_t bytes() const { return bytes_; }
  std::uint64_t evictions() const { return evictions_; }
  void set_max_bytes(std::size_t max_bytes) { max_bytes_ = max_bytes; }

 private:
  static constexpr std::size_t overhead = 160;  // node, key, list link: an estimate
  void erase(std::unordered_map<mid_key, entry, mid_key_hash>::iterator it);
  bool make_room(std::size_t needed);

  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::uint64_t evictions_ = 0;
  std::unordered_map<mid_key, entry, mid_key_hash> entries_;
  // Insertion order per lifetime class: with one lifetime per class, this is expiry order.
  std::list<mid_key> con_order_;
  std::list<mid_key> non_order_;
};

}  // namespace gw::core
