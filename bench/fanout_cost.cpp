// CPU per notification in the sans-I/O layer alone: N observers of one resource (spread over
// ten addresses, 8-byte tokens, as coap-load registers them), then ROUNDS changes, each encoded
// for every observer and every notification acknowledged. Prints microseconds per notification
// for the fan-out (notify + take_sends) and for the acknowledgements apart: the ceiling the
// endpoint puts on P4 of bench/run.sh, with no sockets.
//   build/bin/bench_fanout_cost [N] [ROUNDS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "bench/observer_play.hpp"
#include "gateway/coap/codec.hpp"
#include "gateway/core/endpoint.hpp"

using namespace gw;

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 20;
  core::endpoint_config cfg;
  cfg.observe.max_observers = static_cast<std::size_t>(n);
  const core::resource_key key{"a32c85ba9dda45823be416246cf8b433baa068d7", "temp"};
  core::endpoint ep(cfg, 1,
                    [&](const coap::message&) -> std::optional<core::resource_key> { return key; });
  core::time_point now{};
  auto peer_of = [](int i) {
    return core::peer{0,
                      false,
                      {127, 0, 0, static_cast<std::uint8_t>(2 + i % 10)},
                      static_cast<std::uint16_t>(20000 + i / 10)};
  };
  for (int i = 0; i < n; ++i) {
    coap::bytes token;
    for (int b = 0; b < 8; ++b) token.push_back(static_cast<std::uint8_t>(i >> (b % 4 * 8)));
    ep.on_datagram(peer_of(i), bench::observe_get(static_cast<std::uint16_t>(i), token, key.cik),
                   now);
    bench::answer_forwards(ep, "1700000000000000", now);
    for (auto& s : ep.take_sends()) {  // the registration's answer may be a CON: ACK it
      if (auto ack = bench::ack_for(s.datagram)) ep.on_datagram(s.peer, *ack, now);
    }
    ep.take_sends();
    ep.take_observe_events();
  }
  std::printf("observers: %zu\n", ep.observers());

  using clock = std::chrono::steady_clock;
  clock::duration fan{}, acks{};
  std::uint64_t notifications = 0;
  std::vector<std::pair<core::peer, coap::bytes>> to_ack;
  for (int round = 1; round <= rounds; ++round) {
    now += std::chrono::seconds(1);
    ep.on_timer(now);
    ep.take_sends();
    coap::message value;
    value.code = coap::codes::content;
    value.set_payload(std::to_string(1700000000000000LL + round));
    const auto t0 = clock::now();
    ep.notify(key, std::move(value), now);
    auto sends = ep.take_sends();
    const auto t1 = clock::now();
    fan += t1 - t0;
    // The ACKs are made outside the timed part: a client's work, not the gateway's.
    to_ack.clear();
    for (auto& s : sends) {
      auto ack = bench::ack_for(s.datagram);
      if (!ack) continue;
      ++notifications;
      to_ack.emplace_back(s.peer, std::move(*ack));
    }
    const auto t2 = clock::now();
    for (auto& [p, bytes] : to_ack) ep.on_datagram(p, bytes, now);
    ep.take_sends();
    acks += clock::now() - t2;
  }
  auto us = [&](clock::duration d) {
    return std::chrono::duration<double, std::micro>(d).count() /
           std::max<std::uint64_t>(1, notifications);
  };
  std::printf("%llu notifications: fan-out %.2f us, acknowledgement %.2f us, total %.2f us each\n",
              static_cast<unsigned long long>(notifications), us(fan), us(acks), us(fan + acks));
  return 0;
}
