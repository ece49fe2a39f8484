#pragma once
// Admission in front of one upstream lane's pool (issue #13, "Upstream admission and
// protection"). The pool's queue is first come, first served: one address with many source
// ports could fill it with slow reads and every other device would wait behind them or get the
// pool's 5.03. This gate counts the requests admitted to a lane and not yet finished, in total
// and per source address (IPv4 address or IPv6 /64, core::address_of: ports cost an attacker
// nothing), and refuses, before any upstream work:
//
//   source_share  the address already holds max(4, per_source_share x capacity);
//   safe_shed     a safe request (GET, FETCH) while the total is at capacity - unsafe_reserve:
//                 the last slots are kept for writes, so when the lane fills, reads are shed
//                 first. A shed read costs the device one retry; a refused write is one the
//                 device has to resend;
//   full          the lane is at capacity.
//
// A refused request is answered 5.03 with Max-Age at once (RFC 7252 §5.9.3.4); for an unsafe
// one that answer sits in the endpoint's dedup cache for the exchange lifetime like any other,
// so a retransmission gets the 5.03 again and is never executed later (RFC 7252 §4.5).
//
// A source exempt from the per-address tier of the request limits (a trusted proxy, or that
// tier turned off: core::source_limits::address_tier_applies) is admitted without a share: behind
// a balancer every device has the balancer's address.
//
// Pure and single-threaded (one gate per lane per worker); no clock: a ticket is released when
// the call it admitted ends, whatever the time.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "gateway/core/source_limits.hpp"

namespace gw::runner {

struct admission_options {
  std::size_t capacity = 16 + 1024;  // the lane's connections + queue
  double per_source_share = 0.125;   // of capacity, per source address; at least 4 requests
  double unsafe_reserve = 0.125;     // of capacity, kept for unsafe requests
};

enum class shed_reason : std::uint8_t { source_share, safe_shed, full };
inline constexpr std::size_t shed_reason_count = 3;
std::string_view to_string(shed_reason reason);

struct admission_stats {
  std::array<std::uint64_t, shed_reason_count> refused{};  // by shed_reason
  std::size_t admitted = 0;                                // now, not finished
  std::size_t addresses = 0;                               // now, holding at least one

  std::uint64_t refused_by(shed_reason r) const { return refused[static_cast<std::size_t>(r)]; }
};

class upstream_admission {
 public:
  // One admitted request; releases its slot when destroyed. Movable, not copyable. Must not
  // outlive its gate.
  class ticket {
   public:
    ticket(ticket&& other) noexcept;
    ticket& operator=(ticket&& other) noexcept;
    ticket(const ticket&) = delete;
    ticket& operator=(const ticket&) = delete;
    ~ticket();

   private:
    friend class upstream_admission;
    ticket(upstream_admission& gate, const std::optional<core::address_key>& source)
        : gate_(&gate), source_(source) {}
    void release() noexcept;

    upstream_admission* gate_;  // nullptr once moved from
    std::optional<core::address_key> source_;
  };

  explicit upstream_admission(admission_options options = {}) : options_(options) {}
  // A reload: limits from now on; tickets already given keep counting.
  void set_options(admission_options options) { options_ = options; }
  const admission_options& options() const { return options_; }

  // A slot for one request from `source`, or nullopt, the refusal counted in stats and, when
  // `why` is given, written there. A source of nullopt is held to no share.
  std::optional<ticket> admit(const std::optional<core::address_key>& source, bool safe,
                              shed_reason* why = nullptr);

  // The limits the options give: per address, and the total below which safe requests go.
  std::size_t per_source_limit() const;
  std::size_t safe_limit() const;

  admission_stats stats() const;

 private:
  void release(const std::optional<core::address_key>& source) noexcept;

  admission_options options_;
  std::size_t admitted_ = 0;
  std::unordered_map<core::address_key, std::size_t, core::address_key_hash> by_source_;
  std::array<std::uint64_t, shed_reason_count> refused_{};
};

}  // namespace gw::runner
