#include "runner/breaker.hpp"

#include <algorithm>

namespace gw::runner {

std::optional<core::duration> breaker::refuse(core::time_point now) {
  if (now < until_) return until_ - now;
  switch (state_) {
    case state::closed:
      return std::nullopt;
    case state::open:
      state_ = state::half_open;
      probing_ = true;
      return std::nullopt;  // this call is the probe
    case state::half_open:
      // One probe at a time; the others wait about as long as a call takes.
      if (probing_) return std::chrono::seconds(1);
      probing_ = true;
      return std::nullopt;
  }
  return std::nullopt;
}

void breaker::on_result(bool failed, std::optional<std::chrono::seconds> retry_after,
                        core::time_point now) {
  if (retry_after) {
    const auto pause = std::min(*retry_after, options_.max_retry_after);
    until_ = std::max(until_, now + pause);
  }
  if (!failed) {
    state_ = state::closed;
    failures_ = 0;
    probing_ = false;
    period_ = {};
    return;
  }
  ++failures_;
  if (state_ == state::half_open) {
    probing_ = false;
    period_ = std::min<core::duration>(period_ * 2, options_.open_for_max);
    open(now);
  } else if (state_ == state::closed && options_.failures_to_open != 0 &&
             failures_ >= options_.failures_to_open) {
    period_ = options_.open_for;
    open(now);
  }
}

void breaker::open(core::time_point now) {
  state_ = state::open;
  ++opened_;
  // A point in the upper half of the period: gateways that opened together probe apart.
  const auto ticks = period_.count();
  const auto half = ticks / 2;
  const auto jittered = half + static_cast<core::duration::rep>(
                                   rng_() % static_cast<std::uint64_t>(ticks - half + 1));
  until_ = std::max(until_, now + core::duration(jittered));
}

}  // namespace gw::runner
