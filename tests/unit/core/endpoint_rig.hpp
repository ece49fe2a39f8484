#pragma once
// A scripted peer for the endpoint in virtual time, shared by the core tests.
#include <optional>

#include <catch2/catch.hpp>

#include "gateway/coap/codec.hpp"
#include "gateway/core/endpoint.hpp"

namespace gw::test {

using namespace gw;
using namespace std::chrono_literals;
using core::time_point;

inline const core::peer client{0, false, {127, 0, 0, 1}, 40000};
inline const core::peer other_client{0, false, {127, 0, 0, 2}, 40000};

inline coap::message request(coap::type type, coap::code code, std::uint16_t mid,
                             coap::bytes token = {0xAB, 0xCD}) {
  coap::message m;
  m.type = type;
  m.code = code;
  m.mid = mid;
  m.token = std::move(token);
  m.add_option(coap::opt::uri_path, "ts");
  return m;
}

// Stands in for translate::observable_resource, which the core cannot link: GET /1a/<alias>
// with a first Uri-Query names (that query, alias); nothing else is observable.
inline std::optional<core::resource_key> observable(const coap::message& request) {
  if (request.code != coap::codes::get) return std::nullopt;
  auto path = request.path();
  auto queries = request.queries();
  if (path.size() != 2 || path[0] != "1a" || queries.empty()) return std::nullopt;
  return core::resource_key{queries.front(), path[1]};
}

inline coap::message decode(const coap::bytes& b) {
  auto r = coap::decode(b);
  REQUIRE(r.has_value());
  return *r;
}

struct rig {
  core::endpoint ep;
  time_point t0{std::chrono::hours(1)};

  // Without the amplification bound: these scripts are about other rules, and their client
  // never proves its address. amplification_test.cpp runs with it.
  explicit rig(core::endpoint_config cfg = {}, core::observable_fn classify = observable,
               core::local_answer_fn local = {})
      : ep(unbounded(std::move(cfg)), 42, std::move(classify), std::move(local)) {}
  static core::endpoint_config unbounded(core::endpoint_config cfg) {
    cfg.amplification.factor = 0;
    return cfg;
  }

  void receive(const coap::message& m, time_point now, const core::peer& from = client) {
    auto b = coap::encode(m);
    ep.on_datagram(from, b, now);
  }
  void receive_bytes(const coap::bytes& b, time_point now) { ep.on_datagram(client, b, now); }
  std::vector<coap::message> sent() {
    std::vector<coap::message> out;
    for (auto& s : ep.take_sends()) out.push_back(decode(s.datagram));
    return out;
  }
  // Advances the clock to every deadline up to `until`, like the server's one timer does.
  std::vector<std::pair<time_point, coap::message>> run_until(time_point until) {
    std::vector<std::pair<time_point, coap::message>> out;
    while (auto next = ep.next_deadline()) {
      if (*next > until) break;
      ep.on_timer(*next);
      for (auto& m : sent()) out.emplace_back(*next, m);
    }
    return out;
  }
};

}  // namespace gw::test
