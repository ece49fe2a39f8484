#pragma once
// The amplification bound (RFC 7252 §11.3, RFC 9175 §2.4; the rule QUIC uses, RFC 9000 §8.1).
// A UDP source address is the sender's to claim, so every answer to an address that has not
// shown it can receive is a potential reflection attack. Towards a source (address and port)
// not yet verified, the UDP payload bytes sent stay within `factor` times the bytes received
// from it, counted cumulatively: ACKs, responses, retransmissions, answers to duplicate copies
// and notifications alike. A send that does not fit is skipped, never queued.
//
// A source is verified when it answers something it could only have seen by receiving it:
//  - an ACK or an RST (RFC 7252 §4.2 allows either as the answer to a CON) naming the MID of
//    one of our CONs, whose MIDs start at a random value per peer. Guessing is bounded: after
//    max_unmatched ACKs or RSTs that match nothing within unmatched_window, neither verifies
//    that source for `lockout`;
//  - an Echo option (RFC 9175 §2.4) carrying a value we made for that source a short while ago
//    (make_echo/check_echo: a keyed MAC of the address, port and time);
//  - a secure transport vouching for it (endpoint::mark_verified, e.g. after a DTLS handshake).
// Verification lapses after `verified_idle` without a datagram from the source: NATs hand
// ports to others.
//
// The floor. Answers with at most `floor_payload` payload bytes (a read value, a timestamp,
// an error's diagnostic) are never cut for the bound; they go out whole when they fit the
// budget, which they do for any request a device sends (factor 3 of a request that carries a
// CIK is over 140 bytes). When one does not fit, it is held back; a CON client retransmits, the
// copy adds to the budget, and the cached answer goes out to it. An error answer that does not
// fit loses its diagnostic payload (RFC 7252 §5.5.2 makes it optional) before being held back.
// A larger answer goes out as its first block with Block2, at the largest block size that fits
// the budget shared among the answers owed to the client (RFC 7959 §2.4: the server chooses;
// 16 bytes at least; endpoint::block_size_for): a client that speaks Block2 fetches
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
#include <span>
#include <unordered_map>
#include <vector>

#include "base/keyed_hash.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/peer.hpp"

namespace gw::core {

struct amplification_options {
  unsigned factor = 3;  // 0: no bound
  duration verified_idle = std::chrono::minutes(10);
  std::size_t max_sources = 65536;  // per worker; about 120 bytes each
  std::size_t floor_payload = 64;   // answers this small are never cut into blocks
  // Guessing a MID: with k of our CONs awaiting an ACK, a blind ACK or RST hits with
  // probability k/65536. Honest clients send few unmatched ones (a late ACK after our
  // retransmission crossed it, an RST to a notification already given up), so 8 within a minute
  // is generous for them and caps a guesser at 8 tries a minute, then none for ten minutes:
  // about 1 in 8,000 per ten minutes even with k = 1 CON always pending.
  unsigned max_unmatched = 8;
  duration unmatched_window = std::chrono::minutes(1);
  duration lockout = std::chrono::minutes(10);
  // How long an Echo value we made is taken back (RFC 9175 §2.4 wants it short-lived: it
  // proves the source received it recently). Covers a client's round trip and a few retries.
  duration echo_lifetime = std::chrono::seconds(60);
};

// How a source proved it receives what is sent to its address.
enum class verified_by { ack, rst, echo, secure };

struct amplification_stats {
  std::uint64_t held_bytes = 0;     // bytes of datagrams not sent for the bound
  std::uint64_t skipped_sends = 0;  // datagrams not sent for the bound
  std::uint64_t verified = 0;       // sources that proved they receive (cumulative)
  std::uint64_t verified_by_ack = 0;
  std::uint64_t verified_by_rst = 0;
  std::uint64_t verified_by_echo = 0;
  std::uint64_t lockouts = 0;        // sources barred from ACK/RST verification for guessing
  std::size_t verified_sources = 0;  // currently verified (may count lapsed ones until seen)
  std::size_t sources = 0;           // entries held
};

// What a source may still be sent: factor x received - sent, never below zero.
std::uint64_t send_budget(std::uint64_t received, std::uint64_t sent, unsigned factor);

// An Echo value (RFC 9175 §2.2) is 12 bytes: the time in seconds (4 bytes, big-endian) and a
// SipHash-2-4 under `key` of the source's address, port and that time (8 bytes).
inline constexpr std::size_t echo_value_size = 12;
std::vector<std::uint8_t> make_echo_value(const base::hash_key& key, const peer& to,
                                          time_point now);
// True when `value` is one make_echo_value made for `from` at most `lifetime` before `now`.
bool check_echo_value(const base::hash_key& key, const peer& from,
                      std::span<const std::uint8_t> value, time_point now, duration lifetime);

// The largest Block2 SZX (0..6) whose block plus `overhead` bytes fits `allowance`; 0 (16
// bytes) when none does.
std::uint8_t szx_within(std::size_t allowance, std::size_t overhead);

class amplification_guard {
 public:
  // The Echo key is drawn from the process key (base/keyed_hash.hpp), never from the seeded
  // engine whose outputs (MIDs, tokens) a client sees.
  explicit amplification_guard(amplification_options options);
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
  // A secure transport vouches for `who` (verified_by::secure).
  void mark_verified(const peer& who, time_point now) { verify(who, verified_by::secure, now); }
  // `who` proved it receives; an ACK or RST does not count while the source is locked out.
  // True when the source is verified afterwards.
  bool verify(const peer& who, verified_by how, time_point now);
  bool verified(const peer& who, time_point now) const;
  // An ACK or RST from `from` that matched none of our CONs: counts towards its lockout.
  void on_unmatched(const peer& from, time_point now);

  // Echo (RFC 9175): a source that sent an Echo option has shown it speaks Echo, and only
  // such a source may be challenged with 4.01 + Echo (to Exosite devices a 4.01 means "CIK
  // rejected"). A valid value verifies it (verified_by::echo).
  void on_echo(const peer& from, std::span<const std::uint8_t> value, time_point now);
  bool echo_capable(const peer& who, time_point now) const;
  std::vector<std::uint8_t> make_echo(const peer& to, time_point now) const {
    return make_echo_value(echo_key_, to, now);
  }

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
    bool echo_capable = false;
    unsigned unmatched = 0;  // unmatched ACKs and RSTs since unmatched_since
    time_point unmatched_since;
    std::optional<time_point> locked_until;  // ACK/RST verification refused until then
  };
  using list = std::list<source>;
  bool lapsed(const source& s, time_point now) const {
    return now - s.last_seen >= options_.verified_idle;
  }
  const source* find(const peer& p, time_point now) const;
  void erase(list::iterator it);

  source* find_mutable(const peer& p, time_point now);

  amplification_options options_;
  base::hash_key echo_key_;
  list lru_;  // least recently seen first
  std::unordered_map<peer, list::iterator, peer_hash> index_;
  std::size_t verified_count_ = 0;
  amplification_stats counters_;
};

}  // namespace gw::core
