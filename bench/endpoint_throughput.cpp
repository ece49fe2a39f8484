// Requests per second through the sans-I/O message layer alone (decode, dedup, forward, answer,
// encode): the ceiling one worker's CoAP side puts on throughput, with no sockets or upstream.
//   build/bin/bench_endpoint_throughput [N]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "gateway/coap/codec.hpp"
#include "gateway/core/endpoint.hpp"

using namespace gw;

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 1000000;
  core::endpoint ep({}, 1);
  coap::message m;
  m.type = coap::type::con;
  m.code = coap::codes::post;
  m.token = {1, 2, 3, 4};
  m.add_option(coap::opt::uri_path, "1a");
  m.add_option(coap::opt::uri_path, "temp");
  m.add_option(coap::opt::uri_query, "a32c85ba9dda45823be416246cf8b433baa068d7");
  m.set_payload("21.5");
  const auto start = std::chrono::steady_clock::now();
  auto now = core::time_point{};
  std::size_t sent = 0;
  for (int i = 0; i < n; ++i) {
    m.mid = static_cast<std::uint16_t>(i);
    core::peer p{
        0, false, {10, 0, static_cast<std::uint8_t>(i >> 16), 1}, static_cast<std::uint16_t>(i)};
    auto bytes = coap::encode(m);
    ep.on_datagram(p, bytes, now);
    for (auto& f : ep.take_forwards())
      ep.on_response(f.id, coap::make_response(f.request, coap::codes::changed), now);
    sent += ep.take_sends().size();
    if (i % 4096 == 0) {
      now += std::chrono::seconds(1);
      ep.on_timer(now);
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d requests, %zu answers in %.3f s: %.0f requests/s on one core\n", n, sent, s,
              n / s);
  return 0;
}
