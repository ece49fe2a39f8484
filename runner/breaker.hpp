#pragma once
// A circuit breaker for the upstream, and the upstream's own Retry-After, as one gate: while the
// upstream is failing (or has asked for a pause) calls are refused at once, so a dead upstream
// costs devices a fast 5.03 with Max-Age instead of a timeout each, and a recovering one is not
// buried under the backlog.
//
//   closed     calls go through; `failures_to_open` consecutive failures open it.
//   open       calls are refused until the open period ends (a random point in its upper half,
//              so that many gateways do not probe together).
//   half-open  one call (the probe) goes through; success closes it, failure opens it again for
//              twice as long, up to `open_for_max`.
//
// A 503 with Retry-After closes the gate for that long whatever the state (capped at
// `max_retry_after`). Pure: time is an argument.
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

#include "gateway/core/clock.hpp"

namespace gw::runner {

struct breaker_options {
  unsigned failures_to_open = 5;  // 0: never opens (Retry-After is still honoured)
  std::chrono::milliseconds open_for{5000};
  std::chrono::milliseconds open_for_max{60000};
  std::chrono::seconds max_retry_after{300};
};

class breaker {
 public:
  enum class state { closed, open, half_open };

  breaker(breaker_options options, std::uint64_t seed) : options_(options), rng_(seed) {}

  // nullopt: the call may go upstream now (as the probe, when half-open). Otherwise how long
  // until calls may go again.
  std::optional<core::duration> refuse(core::time_point now);
  // The outcome of a call refuse() let through. `failed`: no usable answer (transport error,
  // 5xx). `retry_after`: the answer's Retry-After, for a 503.
  void on_result(bool failed, std::optional<std::chrono::seconds> retry_after,
                 core::time_point now);

  state current() const { return state_; }
  std::uint64_t opened() const { return opened_; }
  void set_options(const breaker_options& options) { options_ = options; }

 private:
  void open(core::time_point now);

  breaker_options options_;
  std::mt19937_64 rng_;
  state state_ = state::closed;
  unsigned failures_ = 0;
  core::duration period_{};   // the last open period, doubled while probes fail
  core::time_point until_{};  // calls are refused before this (open, or Retry-After)
  bool probing_ = false;      // half-open: the probe is out
  std::uint64_t opened_ = 0;
};

}  // namespace gw::runner
