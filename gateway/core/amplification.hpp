#pragma once
// The amplification bound (RFC 7252 §11.3, RFC 9175 §2.4; the rule QUIC uses, RFC 9000 §8.1).
// A UDP source address is the sender's to claim, so every answer to an address that has not
// shown it can receive is a potential reflection attack. Towards a source (address and port)
// not yet verified, the UDP payload bytes sent stay within `factor` times the bytes received
// from it, counted cumulatively: ACKs, responses, retransmissions, answers to duplicate copies
// and notifications alike. A send that does not fit is skipped, never queued.
//
// A source is verified when it answers something it could only have seen by receiving it (an
// ACK of one of our CONs, whose MID starts at a random value per peer), or when a secure
// transport vouches for it (endpoint::mark_verified, e.g. after a DTLS handshake). Verification
// lapses after `verified_idle` without a datagram from the source: NATs hand ports to others.
//
// The floor. Answers with at most `floor_payload` payload bytes (a read value, a timestamp,
// an error's diagnostic) are never cut for the bound; they go out whole when they fit the
// budget, which they do for any request a device sends (factor 3 of a request that carries a
// CIK is over 140 bytes). When one does not fit, it is held back; a CON client retransmits, the
// copy adds to the budget, and the cached answer goes out to it. An error answer that does not
// fit loses its diagnostic payload (RFC 7252 §5.5.2 makes it optional) before being held back.
// A larger answer goes out as its first block with Block2, at the largest block size that fits
// (RFC 7959 §2.4: the server chooses; 16 bytes at least): a client that speaks Block2 fetches
// the rest, each follow-up adding to the budget; a client that ignores Block2 sees a truncated
// value until it is verified.
//
// Per-source state is bounded (max_sources, least recently seen evicted first) and an entry
// idle for verified_idle is forgotten. A forgotten source starts again from zero, in bytes
// received and sent alike, so the bound holds over its whole history.
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>

#include "gateway/core/clock.hpp"
#include "gateway/core/peer.hpp"

namespace gw::core {

struct amplification_options {
  unsigned factor = 3;  // 0: no bound
  duration verified_idle = std::chrono::minutes(10);
  std::size_t max_sources = 65536;  // per worker; about 120 bytes each
  std::size_t floor_payload = 64;   // answers this small are never cut into blocks
};

struct amplification_stats {
  std::uint64_t held_bytes = 0;      // bytes of datagrams not sent for the bound
  std::uint64_t skipped_sends = 0;   // datagrams not sent for the bound
  std::uint64_t verified = 0;        // sources that proved they receive (cumulative)
  std::size_t verified_sources = 0;  // currently verified (may count lapsed ones until seen)
  std::size_t sources = 0;           // entries held
};

// What a source may still be sent: factor x received - sent, never below zero.
std::uint64_t send_budget(std::uint64_t received, std::uint64_t sent, unsigned factor);

// The largest Block2 SZX (0..6) whose block plus `overhead` bytes fits `allowance`; 0 (16
// bytes) when none does.
std::uint8_t szx_within(std::size_t allowance, std::size_t overhead);

class amplification_guard {
 public:
  explicit amplification_guard(amplification_options options) : options_(options) {}
  // Entries already held are kept (a lower max_sources trims them at the next arrival).
  void set_options(amplification_options options) { options_ = options; }
  const amplification_options& options() const { return options_; }

  // Every datagram from `from`, before anything is sent in reply.
  void on_received(const peer& from, std::size_t bytes, time_point now);
  // What `to` may be sent now; nullopt: no bound (verified, or factor 0).
  std::optional<std::uint64_t> allowance(const peer& to, time_point now) const;
  // Accounts a datagram of `bytes` towards `to`; false (and counted as held) when it does not
  // fit the budget, and then it must not be sent.
  bool try_send(const peer& to, std::size_t bytes, time_point now);
  void mark_verified(const peer& who, time_point now);
  bool verified(const peer& who, time_point now) const;

  // Drops entries idle for verified_idle.
  void expire(time_point now);
  amplification_stats stats() const;

 private:
  struct source {
    peer who;
    std::uint64_t received = 0;
    std::uint64_t sent = 0;
    time_point last_seen;
    bool verified = false;
  };
  using list = std::list<source>;
  bool lapsed(const source& s, time_point now) const {
    return now - s.last_seen >= options_.verified_idle;
  }
  const source* find(const peer& p, time_point now) const;
  void erase(list::iterator it);

  amplification_options options_;
  list lru_;  // least recently seen first
  std::unordered_map<peer, list::iterator, peer_hash> index_;
  std::size_t verified_count_ = 0;
  amplification_stats counters_;
};

}  // namespace gw::core
