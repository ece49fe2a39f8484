// Heap bytes per observation on the CoAP side (the endpoint's observe registry), excluding the
// shared upstream long-poll. Registers N observers of one resource through the real endpoint
// and prints the heap growth per observer (glibc mallinfo2). Then the resource changes once a
// second for ROUNDS seconds, every observer acknowledging every notification, and the heap per
// observation is printed as it goes: it must stay flat whatever the write rate (one Max-Age
// deadline per observation), once the per-peer MIDs of the last EXCHANGE_LIFETIME are held.
//   build/bin/bench_observe_memory [N] [ROUNDS]
#include <malloc.h>

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
  const int n = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 600;
  static constexpr std::string_view cik = "a32c85ba9dda45823be416246cf8b433baa068d7";
  core::endpoint_config cfg;
  cfg.observe.max_observers = n;
  cfg.observe.max_observers_per_client = n;
  // Room for every answer in the duplicate cache: evictions would make the heap shrink under the
  // measurement.
  cfg.dedup_cache_bytes = std::size_t{1} << 30;
  // Every GET observes one resource (the gateway's classifier lives in translate/, which this
  // benchmark does not link; the key is the same shape).
  core::endpoint ep(cfg, 1, [](const coap::message&) -> std::optional<core::resource_key> {
    return core::resource_key{std::string(cik), "temp"};
  });
  core::time_point now{};

  // Each observer answered at once; the duplicate cache keeps those answers too, so it is
  // measured on its own first and subtracted.
  auto run = [&](int count, std::uint32_t first_peer, bool observe) {
    for (int i = 0; i < count; ++i) {
      // At most 256 clients per address, as from distinct devices: the per-address tier of
      // the source limits (4,096 relations) would otherwise cap the run.
      const auto k = first_peer + static_cast<std::uint32_t>(i);
      core::peer p{0,
                   false,
                   {10, static_cast<std::uint8_t>(k >> 16), static_cast<std::uint8_t>(k >> 8), 1},
                   static_cast<std::uint16_t>(1000 + (k & 0xFF))};
      const auto t = first_peer + static_cast<std::uint32_t>(i);
      const coap::bytes token{static_cast<std::uint8_t>(t >> 24),
                              static_cast<std::uint8_t>(t >> 16), static_cast<std::uint8_t>(t >> 8),
                              static_cast<std::uint8_t>(t)};
      ep.on_datagram(p, bench::observe_get(static_cast<std::uint16_t>(i), token, cik, observe),
                     now);
      bench::answer_forwards(ep, "21.5", now);
      ep.take_sends();
      ep.take_observe_events();
    }
  };

  auto heap = [] { return mallinfo2().uordblks; };
  const auto h0 = heap();
  run(n, 0, false);
  const auto h1 = heap();
  run(n, 1u << 20, true);
  const auto h2 = heap();
  const double plain = static_cast<double>(h1 - h0) / n;
  const double observed = static_cast<double>(h2 - h1) / n;
  std::printf("observers: %zu\n", ep.observers());
  std::printf("heap per plain request (duplicate cache entry): %.0f bytes\n", plain);
  std::printf("heap per observed request (cache entry + observation): %.0f bytes\n", observed);
  std::printf("heap per observation: %.0f bytes\n", observed - plain);

  // The dataport written once a second for ROUNDS seconds; every notification acknowledged at
  // once. Through the endpoint, the per-peer MIDs of the last EXCHANGE_LIFETIME (RFC 7252
  // §4.4) come on top, so the registry is measured on its own as well.
  const core::resource_key key{"a32c85ba9dda45823be416246cf8b433baa068d7", "temp"};
  auto change = [](int round) {
    coap::message value;
    value.code = coap::codes::content;
    value.set_payload(std::to_string(20000 + round));
    return value;
  };
  std::uint64_t notifications = 0;
  std::size_t h_ref = 0;
  for (int round = 1; round <= rounds; ++round) {
    now += std::chrono::seconds(1);
    ep.on_timer(now);
    ep.notify(key, change(round), now);
    for (auto& s : ep.take_sends()) {
      auto ack = bench::ack_for(s.datagram);
      if (!ack) continue;
      ++notifications;
      ep.on_datagram(s.peer, *ack, now);
    }
    ep.take_sends();
    if (round == 1) h_ref = heap();
    if (round % 100 == 0 || round == rounds) {
      // The observation as registered, plus what the heap grew since the first second (by
      // then the duplicate-cache entries of the GETs above have expired: safe requests are
      // kept for the replay window, 1 s): the peers' MIDs of the last EXCHANGE_LIFETIME.
      std::printf(
          "endpoint after %d s (%llu notifications): heap per observation %.0f bytes\n", round,
          static_cast<unsigned long long>(notifications),
          observed - plain + (static_cast<double>(heap()) - static_cast<double>(h_ref)) / n);
    }
  }

  const auto r0 = heap();
  {
    core::observe_options options;
    options.max_observers = options.max_observers_per_client = static_cast<std::size_t>(n);
    core::observe_registry registry(options);
    core::time_point t{};
    std::vector<core::observation_id> ids;
    for (int i = 0; i < n; ++i) {
      core::peer p{0, false, {10, 1, 0, 1}, static_cast<std::uint16_t>(i)};
      p.address[2] = static_cast<std::uint8_t>(i >> 16);
      auto token = static_cast<std::uint8_t>(i);
      ids.push_back(registry.on_register(p, {token}, key, change(0), 6, t).id);
    }
    std::printf("registry alone: %.0f bytes per observation after registering\n",
                static_cast<double>(heap() - r0) / n);
    for (int round = 1; round <= rounds; ++round) {
      t += std::chrono::seconds(1);
      registry.on_timer(t);
      registry.on_change(key, change(round), t);
      registry.take_notifications();
      for (auto id : ids) registry.on_acked(id, t);
      registry.take_notifications();
      if (round % 100 == 0 || round == rounds) {
        std::printf("registry alone after %d s: %.0f bytes per observation, %zu armed deadlines\n",
                    round, static_cast<double>(heap() - r0) / n, registry.armed_deadlines());
      }
    }
  }
  return 0;
}
