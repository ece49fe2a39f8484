#include "runner/clock.hpp"

#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace gw::runner {

namespace asio = boost::asio;

namespace {

class steady_timer final : public timer {
 public:
  explicit steady_timer(asio::any_io_executor executor) : timer_(std::move(executor)) {}

  asio::awaitable<bool> async_wait_for(core::duration d) override {
    timer_.expires_after(d);
    auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !ec;
  }
  void cancel() override { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

class real_clock final : public clock {
 public:
  core::time_point now() const override { return core::clock::now(); }
  std::int64_t unix_seconds() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::unique_ptr<timer> make_timer(asio::any_io_executor executor) override {
    return std::make_unique<steady_timer>(std::move(executor));
  }
};

}  // namespace

clock& system_clock() {
  static real_clock instance;
  return instance;
}

}  // namespace gw::runner
