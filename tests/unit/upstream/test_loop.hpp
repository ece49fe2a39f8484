#pragma once
// Running a test body on an io_context and waiting inside it without sleeping.
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include "upstream/client.hpp"

namespace gw::upstream::test {

// Runs make_body() on io, then finish() (stop the servers, close the clients), then the loop
// until no work is left: every coroutine has ended before the caller's objects are destroyed.
// Rethrows what the body threw, Catch assertions included. make_body must outlive the call.
template <class F>
void run(boost::asio::io_context& io, F& make_body, std::function<void()> finish) {
  std::exception_ptr failure;
  bool done = false;
  boost::asio::co_spawn(io, make_body(), [&](std::exception_ptr e) {
    failure = e;
    done = true;
    finish();
  });
  io.run_for(std::chrono::seconds(60));
  REQUIRE(done);
  CHECK(io.stopped());
  if (failure) std::rethrow_exception(failure);
}

// Resumes wait() once count_down() has been called n times.
class latch {
 public:
  latch(boost::asio::any_io_executor executor, std::size_t n)
      : timer_(executor, boost::asio::steady_timer::time_point::max()), count_(n) {}
  void count_down() {
    if (--count_ == 0) timer_.cancel();
  }
  boost::asio::awaitable<void> wait() {
    while (count_ > 0)
      co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

 private:
  boost::asio::steady_timer timer_;
  std::size_t count_;
};

// For state with no completion to await (a client's counters): looks again every millisecond,
// up to a generous limit. False when the limit passed.
inline boost::asio::awaitable<bool> eventually(
    std::function<bool()> condition, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= end) co_return false;
    timer.expires_after(std::chrono::milliseconds(1));
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  co_return true;
}

// Starts c.async_send(req) as a task of its own; the answer lands in `into`, then done counts
// down. async_send never throws; if it did, `into` holds errc::state_not_recoverable.
inline void spawn_send(boost::asio::any_io_executor executor, client& c, request req,
                       std::optional<result>& into, latch& done) {
  boost::asio::co_spawn(executor, c.async_send(std::move(req)),
                        [&into, &done](std::exception_ptr e, result r) {
                          if (e) {
                            into = make_error_code(boost::system::errc::state_not_recoverable);
                          } else {
                            into = std::move(r);
                          }
                          done.count_down();
                        });
}

}  // namespace gw::upstream::test
