#pragma once
// Fair limits in two tiers (issue #13), sans-I/O. A UDP source port costs an attacker nothing:
// one address with 1,400 ports used to fill every Block1 slot, because the limits were keyed by
// address:port alone. So each per-client resource is bounded twice:
//
//   per source   (address:port): strict; one device.
//   per address  (IPv4 address, or the IPv6 /64; an IPv4-mapped IPv6 address counts as IPv4):
//                generous; a household or a small NAT behind one address. RFC 7252 §11.3 and
//                RFC 8445's practice: a /64 is what one IPv6 host is given to pick from.
//
// Sources whose address falls in `trusted_proxies` (a UDP balancer in front of the gateway,
// deploy/nginx-udp.conf; a carrier-grade NAT) are exempt from the per-address tier, since
// every device arrives from there; `address_tier: false` turns that tier off altogether.
// All limits are per worker: the kernel hashes a source to one worker's socket, so a source's
// state lives on one worker, but one address's ports spread over all of them.
//
// Covered: Block1 transfers being reassembled, Observe relations, requests forwarded and not
// yet answered (in flight upstream), dedup entries of safe requests still running (answered
// ones are evicted oldest first when their store is full), and a token bucket of new
// requests per source and per address. Each store keeps its own counts (a `source_counts`
// beside its entries, STYLE.md §2); this class decides, so the tiers, the exemption and the
// address grouping live in one place.
#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/core/clock.hpp"
#include "gateway/core/peer.hpp"

namespace gw::core {

// What the per-address tier groups by: the IPv4 address, or the first 64 bits of an IPv6 one.
struct address_key {
  bool v6 = false;
  std::array<std::uint8_t, 8> bits{};
  std::uint64_t hash = 0;  // keyed, from the peer's memo (peer::address_memo); not the value
  friend bool operator==(const address_key& a, const address_key& b) {
    return a.v6 == b.v6 && a.bits == b.bits;
  }
};
address_key address_of(const peer& p);

struct address_key_hash {
  std::size_t operator()(const address_key& k) const noexcept;
};

// An address or a prefix of them, for trusted_proxies: "10.0.0.7", "10.0.0.0/8", "::1",
// "2001:db8::/32". An IPv4 prefix also matches IPv4-mapped IPv6 sources.
struct address_prefix {
  bool v6 = false;
  std::array<std::uint8_t, 16> address{};
  unsigned length = 0;  // bits
  friend bool operator==(const address_prefix&, const address_prefix&) = default;
};
// nullopt for text that is not an address with an optional /length within range.
std::optional<address_prefix> parse_address_prefix(std::string_view text);
bool prefix_contains(const address_prefix& prefix, const peer& p);
// A comma-separated list of them (spaces around items allowed; "" is an empty list). On a bad
// item, nullopt and the item in `bad`.
std::optional<std::vector<address_prefix>> parse_address_prefixes(std::string_view text,
                                                                  std::string* bad = nullptr);

// Per-client resources the tiers bound.
enum class limited : std::uint8_t { block1, observers, in_flight, safe_dedup };
inline constexpr std::size_t limited_count = 4;
std::string_view to_string(limited what);

struct tier_limits {
  std::size_t block1_transfers = 0;
  std::size_t observers = 0;
  std::size_t in_flight = 0;
  std::size_t safe_dedup = 0;
  double rate = 0;   // new requests per second; 0: no bucket for this tier
  double burst = 0;  // bucket size, at least 1 when rate is set

  std::size_t of(limited what) const;
};

struct source_limit_options {
  // Strict. block1_transfers and observers add to the per-client limits the block layer and
  // the observe registry already hold (block.max_transfers_per_client, which counts stored
  // Block2 answers too, and observe.max_observers_per_client).
  // The rate is far above a device's: a closed-loop client on loopback (the suites fetch large
  // bodies in 16-byte blocks) sends over 10,000 requests a second.
  tier_limits per_source{16, 64, 64, 64, 100000, 200000};
  // Generous. bench/run.sh sends every client from 127.0.0.1, so the default rate is above
  // what one worker can serve: the per-address bucket is there to be lowered by operators
  // whose devices are known (docs/operations.md).
  tier_limits per_address{256, 4096, 1024, 1024, 1000000, 2000000};
  bool address_tier = true;  // false: the per-address tier is off
  std::vector<address_prefix> trusted_proxies;
  std::size_t max_buckets = 65536;  // token buckets per tier; least recently used dropped
};

// Counts of one resource per source and per address, kept by the store that holds it.
// A count that falls to zero keeps its entry until zeros far outnumber the rest: a client with
// one request at a time would otherwise allocate and free two map nodes for each request.
class source_counts {
 public:
  void add(const peer& p);
  // Precondition: a matching add().
  void remove(const peer& p);
  std::size_t of_source(const peer& p) const;
  std::size_t of_address(const peer& p) const;
  // Sources with a count above zero.
  std::size_t sources() const { return sources_.size() - source_zeros_; }

 private:
  template <class Map, class Key>
  static void count_up(Map& map, const Key& key, std::size_t& zeros);
  template <class Map, class Key>
  static void count_down(Map& map, const Key& key, std::size_t& zeros);

  std::unordered_map<peer, std::size_t, peer_hash> sources_;
  std::unordered_map<address_key, std::size_t, address_key_hash> addresses_;
  std::size_t source_zeros_ = 0;  // entries of sources_ at zero
  std::size_t address_zeros_ = 0;
};

// Which tier refused.
enum class limit_tier : std::uint8_t { source, address };
std::string_view to_string(limit_tier tier);

struct limit_stats {
  // Refusals by resource and tier; rate_* for the token bucket.
  std::array<std::array<std::uint64_t, 2>, limited_count> refused{};
  std::array<std::uint64_t, 2> rate_dropped{};   // not answered (unverified source)
  std::array<std::uint64_t, 2> rate_answered{};  // answered 4.29
  std::size_t buckets = 0;                       // a gauge: token buckets held, both tiers

  limit_stats& operator+=(const limit_stats& o);
};

class source_limits {
 public:
  explicit source_limits(source_limit_options options = {}) : options_(std::move(options)) {}
  void set_options(source_limit_options options) { options_ = std::move(options); }
  const source_limit_options& options() const { return options_; }

  // Whether `p` may take one more of `what`, given the store's current counts; nullopt when it
  // may, else the tier that refuses.
  std::optional<limit_tier> refuses(limited what, const source_counts& counts, const peer& p) const;
  // refuses(), counting a refusal.
  std::optional<limit_tier> check(limited what, const source_counts& counts, const peer& p);
  // Counts a refusal the store decided with refuses().
  void note_refusal(limited what, limit_tier tier);
  // Whether the per-address tier applies to `p` (not off, not a trusted proxy).
  bool address_tier_applies(const peer& p) const;

  // One new request from `p`: takes a token from both tiers' buckets, or none when either is
  // empty; nullopt when admitted, else the tier whose bucket is empty.
  std::optional<limit_tier> admit(const peer& p, time_point now);
  // How long until `p`'s buckets can admit one more request, for Max-Age (whole seconds, at
  // least 1).
  std::uint32_t retry_after_s(const peer& p, time_point now) const;
  // Counts a dropped or answered rate refusal.
  void note_rate_refusal(limit_tier tier, bool answered);

  // Drops buckets that have refilled (a full bucket is the same as none).
  void expire(time_point now);
  limit_stats stats() const;

 private:
  struct bucket {
    double tokens = 0;
    time_point at;
  };
  template <class Key, class Hash>
  class bucket_table {
   public:
    // The bucket of `key` refilled to `now`; a new one is full.
    bucket& get(const Key& key, const tier_limits& tier, time_point now, std::size_t max);
    const bucket* find(const Key& key) const;
    void expire(const tier_limits& tier, time_point now);
    std::size_t size() const { return index_.size(); }

   private:
    struct node {
      Key key;
      bucket b;
    };
    std::list<node> lru_;  // least recently used first
    std::unordered_map<Key, typename std::list<node>::iterator, Hash> index_;
  };

  source_limit_options options_;
  bucket_table<peer, peer_hash> source_buckets_;
  bucket_table<address_key, address_key_hash> address_buckets_;
  limit_stats stats_;
};

// A bucket of `tier` holding `tokens` at `at`, refilled to `now` (capped at the burst).
double refill(double tokens, time_point at, time_point now, const tier_limits& tier);

}  // namespace gw::core
