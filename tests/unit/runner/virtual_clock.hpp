#pragma once
// runner::clock in virtual time: tests move time with advance(), which wakes the timers that
// fell due; their coroutines resume when the test next runs the io_context.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "runner/clock.hpp"

namespace gw::runner::test {

class virtual_clock final : public clock {
 public:
  core::time_point steady = core::time_point{} + std::chrono::hours(1000);
  std::int64_t unix_time = 1410360840;

  core::time_point now() const override { return steady; }
  std::int64_t unix_seconds() const override { return unix_time; }

  std::unique_ptr<timer> make_timer(boost::asio::any_io_executor executor) override {
    return std::make_unique<virtual_timer>(*this, std::move(executor));
  }

  // Both clocks move by `d` (Unix time in whole seconds, carrying the remainder).
  void advance(core::duration d) {
    steady += d;
    carry_ += d;
    const auto whole = std::chrono::duration_cast<std::chrono::seconds>(carry_);
    unix_time += whole.count();
    carry_ -= whole;
    for (auto* t : std::vector<virtual_timer*>(timers_))
      if (t->deadline && *t->deadline <= steady) t->fire(true);
  }

  // Timers waiting now.
  std::size_t waiting() const {
    return static_cast<std::size_t>(
        std::count_if(timers_.begin(), timers_.end(), [](auto* t) { return t->deadline; }));
  }
  // The earliest deadline a timer waits for.
  std::optional<core::time_point> next_deadline() const {
    std::optional<core::time_point> next;
    for (auto* t : timers_)
      if (t->deadline && (!next || *t->deadline < *next)) next = t->deadline;
    return next;
  }

 private:
  struct virtual_timer final : timer {
    virtual_clock& owner;
    boost::asio::steady_timer wake;
    std::optional<core::time_point> deadline;
    bool fired = false;

    virtual_timer(virtual_clock& c, boost::asio::any_io_executor ex) : owner(c), wake(ex) {
      owner.timers_.push_back(this);
    }
    ~virtual_timer() override { std::erase(owner.timers_, this); }

    boost::asio::awaitable<bool> async_wait_for(core::duration d) override {
      if (d <= core::duration::zero()) co_return true;
      deadline = owner.steady + d;
      fired = false;
      wake.expires_at(core::time_point::max());
      co_await wake.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      co_return fired;
    }
    void cancel() override { fire(false); }
    void fire(bool passed) {
      deadline.reset();
      fired = passed;
      wake.cancel();
    }
  };

  std::vector<virtual_timer*> timers_;
  core::duration carry_{};
};

}  // namespace gw::runner::test
