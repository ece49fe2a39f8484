// The client against the scripted server over loopback: what goes on the wire, keep-alive,
// and every way an answer can fail.
#include <boost/asio/connect.hpp>
#include <catch2/catch.hpp>

#include "tests/unit/upstream/client_fixture.hpp"
#include "tests/unit/upstream/scripted_server.hpp"
#include "tests/unit/upstream/test_loop.hpp"

namespace asio = boost::asio;
using namespace gw::upstream;
using namespace gw::upstream::test;
using namespace std::chrono_literals;

namespace {

reply echo_target(const seen_request& r) {
  reply out;
  out.body = r.method + " " + r.target;
  out.headers = {{"X-Scripted", "yes"}};
  return out;
}

}  // namespace

TEST_CASE("sequential requests share one keep-alive connection", "[upstream][http]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), echo_target);
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 10; ++i) {
      const auto target = "/n/" + std::to_string(i);
      auto res = co_await client->async_send(get(target));
      REQUIRE(res.has_value());
      CHECK(res->status == 200);
      CHECK(res->body == "GET " + target);
    }
    CHECK(server.accepted() == 1);
    CHECK(server.requests().back().index == 9);
    const auto stats = client->stats();
    CHECK(stats.open == 1);
    CHECK(stats.idle == 1);
    CHECK(stats.opened_total == 1);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("requests carry Host, User-Agent, Content-Length and the base path", "[upstream][http]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), echo_target);
  auto client = make_client(io, options_for(server.url() + "/api/"));
  auto body = [&]() -> asio::awaitable<void> {
    auto got = co_await client->async_send(get("/timestamp"));
    REQUIRE(got.has_value());
    CHECK(got->find_header("x-scripted") == "yes");
    CHECK(got->find_header("X-SCRIPTED") == "yes");
    CHECK_FALSE(got->find_header("X-Absent").has_value());

    auto write = post("/onep:v1/stack/alias", "temp=21.5");
    write.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                     {"X-Exosite-CIK", std::string(40, 'a')},
                     {"Content-Length", "999"}};
    auto written = co_await client->async_send(write);
    REQUIRE(written.has_value());
    auto empty_post = co_await client->async_send(post("/provision/activate", ""));
    REQUIRE(empty_post.has_value());
    auto other_agent = get("/x");
    other_agent.headers = {{"User-Agent", "test-agent/1"}};
    const auto agent_set = co_await client->async_send(other_agent);
    REQUIRE(agent_set.has_value());
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });

  const auto& seen = server.requests();
  REQUIRE(seen.size() == 4);
  const auto host = "127.0.0.1:" + std::to_string(server.port());
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].target == "/api/timestamp");
  CHECK(seen[0].header("Host") == host);
  CHECK(seen[0].header("User-Agent") == std::string("coap-gateway/") + GW_VERSION);
  CHECK_FALSE(seen[0].header("Content-Length").has_value());

  CHECK(seen[1].method == "POST");
  CHECK(seen[1].target == "/api/onep:v1/stack/alias");
  CHECK(seen[1].body == "temp=21.5");
  CHECK(seen[1].header("Content-Length") == "9");
  CHECK(seen[1].header("Content-Type") == "application/x-www-form-urlencoded; charset=utf-8");
  CHECK(seen[1].header("X-Exosite-CIK") == std::string(40, 'a'));
  CHECK(seen[1].header("Host") == host);

  // RFC 9110 §8.6: an empty POST still says so.
  CHECK(seen[2].header("Content-Length") == "0");
  CHECK(seen[3].header("User-Agent") == "test-agent/1");
}

TEST_CASE("Connection: close in an answer means a new connection next time", "[upstream][http]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), [](const seen_request&) {
    return make_reply(reply_kind::answer_and_close);
  });
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 5; ++i) {
      auto res = co_await client->async_send(get("/x"));
      REQUIRE(res.has_value());
      CHECK(res->body == "ok");
    }
    CHECK(server.accepted() == 5);
    const auto stats = client->stats();
    CHECK(stats.open == 0);
    CHECK(stats.idle == 0);
    CHECK(stats.opened_total == 5);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("Connection: close in a request means a new connection next time", "[upstream][http]") {
  // The request is written by hand (upstream/connection.cpp, serialize): a caller's "close",
  // in any case and among other options, must still stop the connection being pooled.
  asio::io_context io;
  scripted_server server(io.get_executor(),
                         [](const seen_request&) { return make_reply(reply_kind::answer); });
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    for (const char* value : {"Close", "keep-alive, close", "te"}) {
      auto req = get("/x");
      req.headers = {{"Connection", value}};
      auto res = co_await client->async_send(req);
      REQUIRE(res.has_value());
    }
    auto res = co_await client->async_send(get("/x"));
    REQUIRE(res.has_value());
    // Two closed after their answer; the third ("te") was kept and served the fourth.
    CHECK(server.accepted() == 3);
    CHECK(client->stats().opened_total == 3);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("HEAD, interim 1xx and chunked answers are read whole", "[upstream][http]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), [](const seen_request& r) {
    reply out = make_reply(reply_kind::answer, "0123456789abcdef");
    if (r.target == "/interim") out.kind = reply_kind::interim;
    if (r.target == "/chunked") out.kind = reply_kind::chunked;
    return out;
  });
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    auto head = get("/head");
    head.method = "HEAD";
    auto headed = co_await client->async_send(head);
    REQUIRE(headed.has_value());
    CHECK(headed->body.empty());
    CHECK(headed->find_header("Content-Length") == "16");

    auto interim = co_await client->async_send(get("/interim"));
    REQUIRE(interim.has_value());
    CHECK(interim->status == 200);
    CHECK(interim->body == "0123456789abcdef");

    auto chunked = co_await client->async_send(get("/chunked"));
    REQUIRE(chunked.has_value());
    CHECK(chunked->body == "0123456789abcdef");

    // The connection stayed in step through all three.
    const auto in_step = co_await client->async_send(get("/plain"));
    REQUIRE(in_step.has_value());
    CHECK(server.accepted() == 1);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("an answer that is not HTTP is a protocol error", "[upstream][http]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), [](const seen_request& r) {
    return make_reply(r.target == "/big" ? reply_kind::oversized : reply_kind::garbage);
  });
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    auto garbage = co_await client->async_send(get("/garbage"));
    REQUIRE_FALSE(garbage.has_value());
    CHECK(garbage.error() == error::protocol_error);
    // A body beyond 64 MiB is refused from its head alone.
    auto big = co_await client->async_send(get("/big"));
    REQUIRE_FALSE(big.has_value());
    CHECK(big.error() == error::protocol_error);
    // Neither is retried, and neither connection is kept.
    CHECK(server.requests().size() == 2);
    CHECK(client->stats().open == 0);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

// No upper bounds on elapsed time here: a loaded CI box can stall the loop for seconds. What a
// deadline does is shown by outcomes and by the order deadlines fire in; the lower bounds
// cannot fail from load (a timer never fires early).
TEST_CASE("a server that never answers runs into the deadline", "[upstream][http]") {
  asio::io_context io;
  scripted_server server(io.get_executor(),
                         [](const seen_request&) { return make_reply(reply_kind::silent); });
  auto options = options_for(server.url());
  options.timeout = 300ms;
  auto client = make_client(io, options);
  auto body = [&]() -> asio::awaitable<void> {
    const auto start = std::chrono::steady_clock::now();
    auto res = co_await client->async_send(get("/slow"));
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == error::timed_out);
    CHECK(since(start) >= 240ms);
    CHECK(client->stats().open == 0);
    // The connection is closed, not kept: the server sees it go.
    const bool closed = co_await eventually([&] { return server.closed_by_client() == 1; });
    CHECK(closed);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("request::timeout overrides the configured timeout, shorter or longer",
          "[upstream][http]") {
  asio::io_context io;
  scripted_server server(io.get_executor(),
                         [](const seen_request&) { return make_reply(reply_kind::hold); });
  auto options = options_for(server.url());
  options.timeout = 2s;  // between the two overrides, and below the 10 s default
  options.max_connections = 3;
  auto client = make_client(io, options);
  auto shorter = get("/shorter");
  shorter.timeout = 50ms;
  auto longer = get("/longer");
  longer.timeout = 8s;
  std::optional<result> short_result, plain_result, long_result;
  latch short_done(io.get_executor(), 1), plain_done(io.get_executor(), 1),
      long_done(io.get_executor(), 1);
  auto body = [&]() -> asio::awaitable<void> {
    spawn_send(io.get_executor(), *client, longer, long_result, long_done);
    spawn_send(io.get_executor(), *client, get("/plain"), plain_result, plain_done);
    spawn_send(io.get_executor(), *client, shorter, short_result, short_done);
    // Deadlines fire in the order 50 ms, 2 s, 8 s; each check runs while the next is far off.
    co_await short_done.wait();
    REQUIRE_FALSE(short_result->has_value());
    CHECK(short_result->error() == error::timed_out);
    CHECK_FALSE(plain_result.has_value());
    co_await plain_done.wait();
    REQUIRE_FALSE(plain_result->has_value());
    CHECK(plain_result->error() == error::timed_out);
    CHECK_FALSE(long_result.has_value());
    // The longer override outlived the configured timeout: its answer still arrives.
    server.release();
    co_await long_done.wait();
    REQUIRE(long_result->has_value());
    CHECK((*long_result)->status == 200);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("a refused port is connect_failed", "[upstream][http]") {
  asio::io_context io;
  std::uint16_t port = 0;
  {
    asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  auto client = make_client(io, options_for("http://127.0.0.1:" + std::to_string(port)));
  auto body = [&]() -> asio::awaitable<void> {
    auto res = co_await client->async_send(get("/"));
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == error::connect_failed);
    CHECK(client->stats().open == 0);
  };
  run(io, body, [&] { client->close(); });
}

TEST_CASE("a connect that gets no answer ends at connect_timeout", "[upstream][http]") {
  asio::io_context io;
  // A listener with a full accept queue drops further SYNs: the next connect hangs.
  asio::ip::tcp::acceptor listener(io);
  listener.open(asio::ip::tcp::v4());
  listener.bind({asio::ip::make_address("127.0.0.1"), 0});
  listener.listen(0);
  asio::ip::tcp::socket filler(io);
  filler.connect(listener.local_endpoint());
  auto options =
      options_for("http://127.0.0.1:" + std::to_string(listener.local_endpoint().port()));
  options.connect_timeout = 300ms;
  // Beyond run()'s 60 s limit: only connect_timeout can end this call in time.
  options.timeout = 120s;
  auto client = make_client(io, options);
  auto body = [&]() -> asio::awaitable<void> {
    const auto start = std::chrono::steady_clock::now();
    auto res = co_await client->async_send(get("/"));
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == error::timed_out);
    CHECK(since(start) >= 240ms);
  };
  run(io, body, [&] { client->close(); });
}

TEST_CASE("host names are resolved", "[upstream][http]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), echo_target);
  auto client = make_client(io, options_for("http://localhost:" + std::to_string(server.port())));
  auto options = options_for("http://name.invalid:80");
  options.connect_timeout = 2s;
  auto nowhere = make_client(io, options);
  auto body = [&]() -> asio::awaitable<void> {
    auto res = co_await client->async_send(get("/by-name"));
    REQUIRE(res.has_value());
    CHECK(res->body == "GET /by-name");
    CHECK(server.requests().at(0).header("Host") == "localhost:" + std::to_string(server.port()));

    // Without a resolver that answers, the lookup may also run into the connect deadline.
    auto missing = co_await nowhere->async_send(get("/"));
    REQUIRE_FALSE(missing.has_value());
    CHECK((missing.error() == error::connect_failed || missing.error() == error::timed_out));
  };
  run(io, body, [&] {
    server.stop();
    client->close();
    nowhere->close();
  });
}

TEST_CASE("requests that cannot be written as HTTP are refused before any I/O",
          "[upstream][http]") {
  asio::io_context io;
  scripted_server server(io.get_executor(), echo_target);
  auto client = make_client(io, options_for(server.url()));
  auto body = [&]() -> asio::awaitable<void> {
    std::vector<request> bad(6, get("/ok"));
    bad[0].headers = {{"X-Injected", "a\r\nX-Evil: 1"}};
    bad[1].headers = {{"Bad Name", "v"}};
    bad[2].headers = {{"", "v"}};
    bad[3].target = "/with space";
    bad[4].target = "relative";
    bad[5].method = "GET /x";
    for (auto& r : bad) {
      auto res = co_await client->async_send(r);
      REQUIRE_FALSE(res.has_value());
      CHECK(res.error() == error::bad_request);
    }
    CHECK(server.accepted() == 0);
  };
  run(io, body, [&] {
    server.stop();
    client->close();
  });
}

TEST_CASE("make_http_client refuses a bad base URL", "[upstream][http]") {
  asio::io_context io;
  auto made = make_http_client(io.get_executor(), options_for("ftp://127.0.0.1"));
  REQUIRE_FALSE(made.has_value());
  CHECK(made.error() == error::bad_url);
}
