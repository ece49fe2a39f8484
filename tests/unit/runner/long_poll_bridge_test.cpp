// The long-poll bridge in virtual time: each poll's client holds its request until the test
// answers it, and backoff waits pass only when the test moves the clock.
#include "runner/long_poll_bridge.hpp"

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include "http/http_date.hpp"
#include "tests/unit/runner/virtual_clock.hpp"
#include "tests/unit/translate/translate_test_support.hpp"

namespace gw::runner::test {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace tt = translate::test;

// What the test sees of one poll's client. The client itself belongs to the poll (and dies with
// it, possibly inside the io_context's teardown); this record outlives it.
struct held_state {
  std::vector<upstream::request> sent;
  bool closed = false;
  bool waiting = false;
  std::optional<upstream::result> next;
  asio::steady_timer* wake = nullptr;  // while the client lives

  void answer(upstream::result r) {
    REQUIRE(waiting);
    REQUIRE(wake != nullptr);
    next = std::move(r);
    wake->cancel();
  }
};

// A client whose requests wait until the test answers them; close() ends the waiting one.
class held_client final : public upstream::client {
 public:
  held_client(asio::any_io_executor ex, std::shared_ptr<held_state> state)
      : wake_(ex), state_(std::move(state)) {
    state_->wake = &wake_;
  }
  ~held_client() override { state_->wake = nullptr; }

  asio::awaitable<upstream::result> async_send(upstream::request req) override {
    auto state = state_;
    if (state->closed) co_return make_error_code(upstream::error::shutting_down);
    state->sent.push_back(std::move(req));
    state->waiting = true;
    wake_.expires_at(core::time_point::max());
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
    state->waiting = false;
    if (!state->next) co_return make_error_code(upstream::error::shutting_down);
    auto r = std::move(*state->next);
    state->next.reset();
    co_return r;
  }
  void close() override {
    state_->closed = true;
    wake_.cancel();
  }

 private:
  asio::steady_timer wake_;
  std::shared_ptr<held_state> state_;
};

struct notified {
  core::resource_key resource;
  coap::message content;
  bool final = false;
};

struct fixture {
  // Declared first: the poll coroutines' frames die with io_context, and their timers
  // unregister from the clock then.
  virtual_clock clock;
  asio::io_context io;
  std::vector<std::shared_ptr<held_state>> clients;  // one per poll, in start order
  std::vector<notified> out;
  long_poll_options options;
  long_poll_bridge bridge{io.get_executor(),
                          clock,
                          [this]() -> std::unique_ptr<upstream::client> {
                            clients.push_back(std::make_shared<held_state>());
                            return std::make_unique<held_client>(io.get_executor(), clients.back());
                          },
                          options,
                          observe_sink{[this](const core::resource_key& r, coap::message m) {
                                         out.push_back({r, std::move(m), false});
                                       },
                                       [this](const core::resource_key& r, coap::message m) {
                                         out.push_back({r, std::move(m), true});
                                       }},
                          42};
  const core::resource_key temp{tt::cik, "temp"};

  void run() {
    io.restart();
    io.poll();
  }
  held_state& poll_client() {
    REQUIRE(clients.size() == 1);
    return *clients.front();
  }
  std::string asked_since(std::size_t i) {
    REQUIRE(i < poll_client().sent.size());
    return tt::header(poll_client().sent[i], "If-Modified-Since").value_or("");
  }
  void answer(unsigned status, std::string body = {}, std::vector<upstream::header> h = {}) {
    poll_client().answer(tt::make_answer(status, std::move(body), std::move(h)));
    run();
  }
};

TEST_CASE("backoff doubles, is capped, and lands in the upper half of its interval",
          "[runner][long_poll]") {
  long_poll_options o;
  o.backoff_initial = 1000ms;
  o.backoff_max = 8000ms;
  CHECK(poll_backoff(o, 1, 0) == 500ms);
  CHECK(poll_backoff(o, 1, 500) == 1000ms);
  CHECK(poll_backoff(o, 2, 0) == 1000ms);
  CHECK(poll_backoff(o, 3, 2000) == 4000ms);
  CHECK(poll_backoff(o, 4, 0) == 4000ms);
  CHECK(poll_backoff(o, 30, 0) == 4000ms);
  CHECK(poll_backoff(o, 30, 4000) == 8000ms);
  for (std::uint64_t r = 0; r < 10000; r += 7) {
    auto d = poll_backoff(o, 2, r);
    CHECK((d >= 1000ms && d <= 2000ms));
  }
}

TEST_CASE_METHOD(fixture, "one poll per resource, asked with the time the value was read",
                 "[runner][long_poll]") {
  bridge.on_started(temp);
  bridge.on_started(temp);
  run();
  CHECK(bridge.active_polls() == 1);
  REQUIRE(poll_client().sent.size() == 1);
  const auto& r = poll_client().sent[0];
  CHECK(r.target == "/onep:v1/stack/alias?temp");
  CHECK(tt::header(r, "X-Exosite-CIK") == tt::cik);
  CHECK(tt::header(r, "Request-Timeout") == "60000");
  CHECK(asked_since(0) == std::to_string(clock.unix_time - 1));

  bridge.on_stopped(temp);
  CHECK(bridge.active_polls() == 0);
  CHECK(poll_client().closed);
  run();
  CHECK(poll_client().sent.size() == 1);
  CHECK(out.empty());
}

TEST_CASE_METHOD(fixture, "a newer point is notified and the next poll asks from its time",
                 "[runner][long_poll]") {
  bridge.on_started(temp);
  run();
  const auto t = clock.unix_time + 3;
  answer(200, "temp=21.5", {{"Last-Modified", http::format_http_date(t)}});
  REQUIRE(out.size() == 1);
  CHECK(out[0].resource == temp);
  CHECK_FALSE(out[0].final);
  CHECK(tt::text(out[0].content) == "21.5");
  REQUIRE(poll_client().sent.size() == 2);
  CHECK(asked_since(1) == std::to_string(t));

  answer(304);  // nothing new: ask again at once, from the same point
  CHECK(out.size() == 1);
  REQUIRE(poll_client().sent.size() == 3);
  CHECK(asked_since(2) == std::to_string(t));
}

TEST_CASE_METHOD(fixture, "a 200 that makes no progress backs off instead of spinning",
                 "[runner][long_poll]") {
  bridge.on_started(temp);
  run();
  const auto since = asked_since(0);
  answer(200, "temp=1");  // no Last-Modified
  CHECK(out.empty());
  CHECK(poll_client().sent.size() == 1);
  REQUIRE(clock.waiting() == 1);
  const auto due = *clock.next_deadline() - clock.steady;
  CHECK((due >= 500ms && due <= 1000ms));

  clock.advance(due);
  run();
  REQUIRE(poll_client().sent.size() == 2);
  CHECK(asked_since(1) == since);

  // A Last-Modified older than what was asked for is no progress either; the next wait is
  // longer.
  answer(200, "temp=1", {{"Last-Modified", std::to_string(std::stoll(since) - 5)}});
  CHECK(out.empty());
  REQUIRE(clock.waiting() == 1);
  const auto second = *clock.next_deadline() - clock.steady;
  CHECK((second >= 1000ms && second <= 2000ms));
  clock.advance(second);
  run();

  // Nor is a 200 without the alias in it.
  answer(200, "other=1", {{"Last-Modified", std::to_string(std::stoll(since) + 5)}});
  CHECK(out.empty());
  CHECK(clock.waiting() == 1);
}

TEST_CASE_METHOD(fixture, "a point in the same second is new unless it is the one delivered last",
                 "[runner][long_poll]") {
  bridge.on_started(temp);
  run();
  const auto t = std::to_string(clock.unix_time + 2);
  answer(200, "temp=a", {{"Last-Modified", t}});
  REQUIRE(out.size() == 1);
  CHECK(asked_since(1) == t);
  answer(200, "temp=b", {{"Last-Modified", t}});  // written later in the same second
  REQUIRE(out.size() == 2);
  CHECK(tt::text(out[1].content) == "b");
  CHECK(clock.waiting() == 0);
  answer(200, "temp=b", {{"Last-Modified", t}});  // the same point again: no progress
  CHECK(out.size() == 2);
  CHECK(clock.waiting() == 1);
}

TEST_CASE_METHOD(fixture, "upstream failures back off and a success resets the backoff",
                 "[runner][long_poll]") {
  bridge.on_started(temp);
  run();
  for (int i = 0; i < 5; ++i) {
    answer(503);
    REQUIRE(clock.waiting() == 1);
    clock.advance(*clock.next_deadline() - clock.steady);
    run();
  }
  REQUIRE(poll_client().sent.size() == 6);
  poll_client().answer(make_error_code(upstream::error::timed_out));
  run();
  const auto sixth = *clock.next_deadline() - clock.steady;
  CHECK(sixth >= 16s);  // 2^5 s, upper half
  clock.advance(sixth);
  run();
  answer(200, "temp=2", {{"Last-Modified", std::to_string(clock.unix_time + 1)}});
  CHECK(out.size() == 1);
  answer(503);
  const auto after = *clock.next_deadline() - clock.steady;
  CHECK(after <= 1s);
}

TEST_CASE_METHOD(fixture, "401 ends every observer with a final answer and ends the poll",
                 "[runner][long_poll]") {
  bridge.on_started(temp);
  run();
  answer(401);
  REQUIRE(out.size() == 1);
  CHECK(out[0].final);
  CHECK(out[0].content.code == coap::codes::unauthorized);
  CHECK(poll_client().sent.size() == 1);
  clock.advance(10min);
  run();
  CHECK(poll_client().sent.size() == 1);
}

TEST_CASE_METHOD(fixture, "stopping during a backoff cancels it: no request after the stop",
                 "[runner][long_poll]") {
  bridge.on_started(temp);
  run();
  answer(500);
  REQUIRE(clock.waiting() == 1);
  bridge.on_stopped(temp);
  run();
  CHECK(clock.waiting() == 0);
  clock.advance(10min);
  run();
  CHECK(poll_client().sent.size() == 1);
  CHECK(out.empty());
}

TEST_CASE_METHOD(fixture, "close() ends a request in flight without a notification",
                 "[runner][long_poll]") {
  bridge.on_started(temp);
  bridge.on_started({tt::cik, "humidity"});
  run();
  CHECK(bridge.active_polls() == 2);
  bridge.close();
  run();
  CHECK(bridge.active_polls() == 0);
  for (const auto& c : clients) CHECK(c->closed);
  CHECK(out.empty());
}

}  // namespace
}  // namespace gw::runner::test

namespace gw::runner::test {
namespace {

TEST_CASE("a poll starts from the point the registration showed, which is not notified again",
          "[runner][long_poll]") {
  virtual_clock clock;
  asio::io_context io;
  observed_points points;
  std::vector<std::shared_ptr<held_state>> clients;
  std::vector<std::string> notified;
  long_poll_bridge bridge(
      io.get_executor(), clock,
      [&]() -> std::unique_ptr<upstream::client> {
        clients.push_back(std::make_shared<held_state>());
        return std::make_unique<held_client>(io.get_executor(), clients.back());
      },
      {},
      observe_sink{
          [&](const core::resource_key&, coap::message m) { notified.emplace_back(tt::text(m)); },
          [](const core::resource_key&, coap::message) {}},
      1, &points);
  const core::resource_key temp{tt::cik, "temp"};
  points.remember(temp, {1410360800, "20"}, clock.steady);
  bridge.on_started(temp);
  io.poll();
  REQUIRE(clients.size() == 1);
  REQUIRE(clients[0]->sent.size() == 1);
  CHECK(tt::header(clients[0]->sent[0], "If-Modified-Since") == "1410360800");
  // Upstream shows the same point again (the same second, the same value): not a notification.
  clients[0]->answer(tt::make_answer(200, "temp=20", {{"Last-Modified", "1410360800"}}));
  io.restart();
  io.poll();
  CHECK(notified.empty());
  // A newer value in the same second is.
  clock.advance(*clock.next_deadline() - clock.steady);
  io.restart();
  io.poll();
  clients[0]->answer(tt::make_answer(200, "temp=21", {{"Last-Modified", "1410360800"}}));
  io.restart();
  io.poll();
  CHECK(notified == std::vector<std::string>{"21"});
}

}  // namespace
}  // namespace gw::runner::test
