// The pool over loopback: reuse and the retry rule, the connection limit, the wait queue,
// idle expiry and close().
#include <optional>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/unit/upstream/client_fixture.hpp"
#include "tests/unit/upstream/scripted_server.hpp"
#include "tests/unit/upstream/test_loop.hpp"

namespace asio = boost::asio;
using namespace gw::upstream;
using namespace gw::upstream::test;
using namespace std::chrono_literals;

namespace {

// The second request on the first connection is read and then dropped unanswered: the race of
// a server closing a keep-alive connection just as a request arrives.
reply drop_second_on_first(const seen_request& r) {
  if (r.connection == 0 && r.index == 1) return make_reply(reply_kind::drop);
  return make_reply(reply_kind::answer, r.method + " " + r.target);
}

}  // namespace

TEST_CASE("a GET that dies unanswered on a reused connection is sent again, once",
          "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), drop_second_on_first);
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    const auto first = co_await client->async_send(get("/a"));
    REQUIRE(first.has_value());
    auto res = co_await client->async_send(get("/b"));
    REQUIRE(res.has_value());
    CHECK(res->body == "GET /b");
    REQUIRE(server.requests().size() == 3);
    CHECK(server.requests()[1].target == "/b");
    CHECK(server.requests()[2].target == "/b");
    CHECK(server.requests()[2].connection == 1);
    CHECK(client->stats().opened_total == 2);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("a POST that dies unanswered on a reused connection is never repeated",
          "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), drop_second_on_first);
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    const auto first = co_await client->async_send(get("/a"));
    REQUIRE(first.has_value());
    auto res = co_await client->async_send(post("/onep:v1/stack/alias", "a=1"));
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == error::connection_closed);
    CHECK(server.count("POST") == 1);
    CHECK(server.accepted() == 1);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("a GET marked not idempotent is not retried", "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), drop_second_on_first);
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    const auto first = co_await client->async_send(get("/a"));
    REQUIRE(first.has_value());
    auto once = get("/b");
    once.idempotent = false;
    auto res = co_await client->async_send(once);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == error::connection_closed);
    CHECK(server.requests().size() == 2);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("a POST marked idempotent is retried", "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), drop_second_on_first);
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    const auto first = co_await client->async_send(get("/a"));
    REQUIRE(first.has_value());
    auto lookup = post("/onep:v1/rpc/process", "{}");
    lookup.idempotent = true;
    auto res = co_await client->async_send(lookup);
    REQUIRE(res.has_value());
    CHECK(server.count("POST") == 2);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("a request on a fresh connection that the server drops is connection_closed",
          "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(),
                         [](const seen_request&) { return make_reply(reply_kind::drop); });
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    auto res = co_await client->async_send(get("/x"));
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == error::connection_closed);
    CHECK(server.requests().size() == 1);
    CHECK(server.accepted() == 1);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("a connection the server closed while idle is not used again", "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), [](const seen_request& r) {
    return make_reply(reply_kind::answer_then_drop, r.method + " " + r.target);
  });
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    const auto first = co_await client->async_send(get("/a"));
    REQUIRE(first.has_value());
    const bool dropped = co_await eventually([&] { return server.closed_by_server() == 1; });
    REQUIRE(dropped);
    auto res = co_await client->async_send(get("/b"));
    REQUIRE(res.has_value());
    CHECK(res->body == "GET /b");
    CHECK(server.accepted() == 2);

    // A POST is never sent twice. The client notices the close before writing unless the FIN
    // is still in flight; then it fails the POST rather than repeat it.
    const bool dropped_again = co_await eventually([&] { return server.closed_by_server() == 2; });
    REQUIRE(dropped_again);
    auto write = co_await client->async_send(post("/w", "a=1"));
    if (write) {
      CHECK(write->body == "POST /w");
      CHECK(server.count("POST") == 1);
    } else {
      CHECK(write.error() == error::connection_closed);
      CHECK(server.count("POST") == 0);
    }
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("a 408 a server sent on an idle connection before closing it answers nothing we sent",
          "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), [](const seen_request& r) {
    return make_reply(reply_kind::answer_then_408, r.method + " " + r.target);
  });
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    const auto first = co_await client->async_send(get("/a"));
    REQUIRE(first.has_value());
    CHECK(client->stats().idle == 1);
    server.release();
    const bool expired = co_await eventually([&] { return server.closed_by_server() == 1; });
    REQUIRE(expired);
    // A GET takes the connection without looking first (it may be sent again), reads the 408
    // and goes again on a fresh connection.
    auto res = co_await client->async_send(get("/b"));
    REQUIRE(res.has_value());
    CHECK(res->status == 200);
    CHECK(res->body == "GET /b");
    CHECK(server.accepted() == 2);

    // A POST looks before it writes: it never goes on the expired connection.
    const bool expired_again = co_await eventually([&] { return server.closed_by_server() == 2; });
    REQUIRE(expired_again);
    auto write = co_await client->async_send(post("/w", "a=1"));
    REQUIRE(write.has_value());
    CHECK(write->body == "POST /w");
    CHECK(server.count("POST") == 1);
    CHECK(server.accepted() == 3);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("a 408 on a fresh connection is the answer", "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), [](const seen_request&) {
    reply r = make_reply(reply_kind::answer_and_close, "slow");
    r.status = 408;
    return r;
  });
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    auto res = co_await client->async_send(get("/x"));
    REQUIRE(res.has_value());
    CHECK(res->status == 408);
    CHECK(server.accepted() == 1);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("200 concurrent requests share at most max_connections", "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), [](const seen_request& r) {
    return make_reply(reply_kind::answer, r.target);
  });
  auto options = options_for(server.url());
  options.max_connections = 4;
  auto client = make_client(io, options);
  constexpr std::size_t n = 200;
  std::vector<std::optional<result>> results(n);
  latch done(io.get_executor(), n);
  auto body = [&]() -> asio::awaitable<void> {
    for (std::size_t i = 0; i < n; ++i) {
      spawn_send(io.get_executor(), *client, get("/r/" + std::to_string(i)), results[i], done);
    }
    co_await done.wait();
    for (std::size_t i = 0; i < n; ++i) {
      REQUIRE(results[i].has_value());
      REQUIRE(results[i]->has_value());
      CHECK((*results[i])->body == "/r/" + std::to_string(i));
    }
    CHECK(server.max_open() <= 4);
    CHECK(server.requests().size() == n);
    const auto stats = client->stats();
    CHECK(stats.opened_total <= 4);
    CHECK(stats.open <= 4);
    CHECK(stats.queue_waits_total >= n - 4);
    CHECK(stats.queued == 0);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("a full wait queue refuses at once", "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(),
                         [](const seen_request&) { return make_reply(reply_kind::hold); });
  auto options = options_for(server.url());
  options.max_connections = 1;
  options.max_queue = 2;
  // Beyond run()'s 60 s limit, and nothing frees a slot before release(): a refusal that
  // waited for anything would never come. No bound on elapsed time (CI load).
  options.timeout = 120s;
  auto client = make_client(io, options);
  std::vector<std::optional<result>> results(3);
  latch done(io.get_executor(), 3);
  auto body = [&]() -> asio::awaitable<void> {
    for (auto& r : results) spawn_send(io.get_executor(), *client, get("/held"), r, done);
    const bool queued = co_await eventually([&] { return client->stats().queued == 2; });
    REQUIRE(queued);
    auto refused = co_await client->async_send(get("/one-too-many"));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == error::queue_full);
    CHECK(client->stats().queued == 2);  // the refused one never joined the queue

    server.release();
    co_await done.wait();
    for (auto& r : results) CHECK(r->has_value());
    CHECK(server.accepted() == 1);
    CHECK(client->stats().queue_waits_total == 2);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("time spent waiting for a connection counts against the deadline", "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(),
                         [](const seen_request&) { return make_reply(reply_kind::hold); });
  auto options = options_for(server.url());
  options.max_connections = 1;
  // Beyond run()'s 60 s limit: only the request's own 200 ms, counted from the start of the
  // queue wait, can end it while the slot is held.
  options.timeout = 120s;
  auto client = make_client(io, options);
  std::optional<result> first;
  latch done(io.get_executor(), 1);
  auto body = [&]() -> asio::awaitable<void> {
    spawn_send(io.get_executor(), *client, get("/held"), first, done);
    const bool in_flight = co_await eventually([&] { return server.requests().size() == 1; });
    REQUIRE(in_flight);
    auto waiting = get("/queued");
    waiting.timeout = 200ms;
    const auto start = std::chrono::steady_clock::now();
    auto res = co_await client->async_send(waiting);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == error::timed_out);
    CHECK(since(start) >= 160ms);    // a timer never fires early
    CHECK_FALSE(first.has_value());  // the slot was never freed: it timed out in the queue
    CHECK(client->stats().queued == 0);

    server.release();
    co_await done.wait();
    CHECK(first->has_value());
    // The slot the timed-out request never got is still usable.
    const auto after = co_await client->async_send(get("/after"));
    CHECK(after.has_value());
    CHECK(server.accepted() == 1);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("close() fails waiting and in-flight requests with shutting_down", "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(),
                         [](const seen_request&) { return make_reply(reply_kind::hold); });
  auto options = options_for(server.url());
  options.max_connections = 1;
  options.timeout = 30s;
  auto client = make_client(io, options);
  std::vector<std::optional<result>> results(3);
  latch done(io.get_executor(), 3);
  auto body = [&]() -> asio::awaitable<void> {
    for (auto& r : results) spawn_send(io.get_executor(), *client, get("/held"), r, done);
    const bool waiting = co_await eventually(
        [&] { return client->stats().queued == 2 && server.requests().size() == 1; });
    REQUIRE(waiting);
    // options.timeout (30 s) would end them with timed_out; close() ends them as shutting_down.
    client->close();
    co_await done.wait();
    for (auto& r : results) {
      REQUIRE_FALSE(r->has_value());
      CHECK(r->error() == error::shutting_down);
    }
    auto late = co_await client->async_send(get("/late"));
    REQUIRE_FALSE(late.has_value());
    CHECK(late.error() == error::shutting_down);
    const auto stats = client->stats();
    CHECK(stats.open == 0);
    CHECK(stats.queued == 0);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("destroying the client while requests run ends them cleanly", "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(),
                         [](const seen_request&) { return make_reply(reply_kind::hold); });
  auto options = options_for(server.url());
  options.max_connections = 1;
  auto client = make_client(io, options);
  std::vector<std::optional<result>> results(3);
  latch done(io.get_executor(), 3);
  auto body = [&]() -> asio::awaitable<void> {
    for (auto& r : results) spawn_send(io.get_executor(), *client, get("/held"), r, done);
    const bool waiting = co_await eventually(
        [&] { return client->stats().queued == 2 && server.requests().size() == 1; });
    REQUIRE(waiting);
    client.reset();
    co_await done.wait();
    for (auto& r : results) {
      REQUIRE_FALSE(r->has_value());
      CHECK(r->error() == error::shutting_down);
    }
  };
  run(io, body, [&] { server.stop(); });
}

TEST_CASE("idle connections expire after idle_timeout", "[upstream][pool]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), [](const seen_request&) { return reply{}; });
  auto options = options_for(server.url());
  // Long enough that the connections are still idle when the body looks, even on a loaded box;
  // eventually() gives up after 20 s, well before the 30 s default, so the option must apply.
  options.idle_timeout = 1s;
  options.max_connections = 2;
  auto client = make_client(io, options);
  std::vector<std::optional<result>> results(2);
  latch done(io.get_executor(), 2);
  auto body = [&]() -> asio::awaitable<void> {
    for (auto& r : results) spawn_send(io.get_executor(), *client, get("/"), r, done);
    co_await done.wait();
    CHECK(client->stats().idle == 2);
    const bool expired = co_await eventually([&] { return server.closed_by_client() == 2; });
    REQUIRE(expired);
    const auto stats = client->stats();
    CHECK(stats.open == 0);
    CHECK(stats.idle == 0);
    // And the pool opens a new one when needed.
    const auto again = co_await client->async_send(get("/again"));
    CHECK(again.has_value());
    CHECK(server.accepted() == 3);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}
