#pragma once
// The procedure runner without sockets: a scripted upstream::client records every request and
// answers from a script, the runner runs on an io_context in virtual time, and each test asserts
// the whole sequence of upstream calls and the CoAP answer.
#include <deque>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "runner/procedure_runner.hpp"
#include "tests/unit/runner/virtual_clock.hpp"
#include "tests/unit/translate/translate_test_support.hpp"
#include "translate/cbor_json.hpp"

namespace gw::runner::test {

using namespace coap::codes;
using namespace std::chrono_literals;
namespace tt = translate::test;
using translate::json;

class scripted_client final : public upstream::client {
 public:
  std::vector<upstream::request> sent;

  void answer(unsigned status, std::string body = {}, std::vector<upstream::header> headers = {}) {
    script_.emplace_back(tt::make_answer(status, std::move(body), std::move(headers)));
  }
  void fail(upstream::error e) { script_.emplace_back(make_error_code(e)); }
  std::size_t unused() const { return script_.size(); }

  boost::asio::awaitable<upstream::result> async_send(upstream::request req) override {
    sent.push_back(std::move(req));
    if (script_.empty()) {
      FAIL_CHECK("unscripted upstream call: " << sent.back().method << " " << sent.back().target);
      co_return make_error_code(upstream::error::connection_closed);
    }
    auto next = std::move(script_.front());
    script_.pop_front();
    co_return next;
  }

 private:
  std::deque<upstream::result> script_;
};

inline const std::string lookup_ok =
    R"([{"id": 1, "status": "ok", "result": "0123456789abcdef0123456789abcdef01234567"}])";
inline const std::string lookup_invalid = R"([{"id": 1, "status": "invalid"}])";
inline const std::string form_type = "application/x-www-form-urlencoded; charset=utf-8";

struct fixture {
  scripted_client client;
  virtual_clock clock;
  core::time_point& now = clock.steady;
  std::int64_t& unix_now = clock.unix_time;
  runner_options options;

  procedure_runner make() { return procedure_runner(client, options, clock); }

  // Runs one request to completion on a fresh io_context; rethrows what the runner threw.
  coap::message run(procedure_runner& d, coap::message request) {
    boost::asio::io_context io;
    std::optional<coap::message> out;
    std::exception_ptr failure;
    boost::asio::co_spawn(io, d.async_handle(std::move(request)),
                          [&](std::exception_ptr e, coap::message m) {
                            failure = e;
                            if (!e) out = std::move(m);
                          });
    io.run();
    if (failure) std::rethrow_exception(failure);
    REQUIRE(out.has_value());
    return std::move(*out);
  }

  bool is_lookup(std::size_t i, const std::string& alias) const {
    REQUIRE(i < client.sent.size());
    const auto& r = client.sent[i];
    if (r.method != "POST" || r.target != "/onep:v1/rpc/process") return false;
    auto body = json::parse(r.body, nullptr, false);
    return !body.is_discarded() && body["auth"]["cik"] == tt::cik &&
           body["calls"][0]["procedure"] == "lookup" &&
           body["calls"][0]["arguments"] == json::array({"alias", alias});
  }
  bool is_write(std::size_t i, const std::string& body) const {
    REQUIRE(i < client.sent.size());
    const auto& r = client.sent[i];
    return r.method == "POST" && r.target == "/onep:v1/stack/alias" && r.body == body &&
           tt::header(r, "X-Exosite-CIK") == tt::cik;
  }
  bool is_read(std::size_t i, const std::string& query) const {
    REQUIRE(i < client.sent.size());
    const auto& r = client.sent[i];
    return r.method == "GET" && r.target == "/onep:v1/stack/alias?" + query &&
           tt::header(r, "X-Exosite-CIK") == tt::cik;
  }
};

inline coap::message post_value(std::string alias, std::string value,
                                std::vector<std::string> queries = {tt::cik}) {
  return tt::with_payload(tt::make_request(post, {"1a", std::move(alias)}, queries), value);
}

inline coap::message get_value(std::string alias, std::vector<std::string> queries = {tt::cik}) {
  return tt::make_request(get, {"1a", std::move(alias)}, queries);
}

}  // namespace gw::runner::test
