#pragma once
// RFC 7252 §4.8 transmission parameters and the times derived from them (§4.8.2).
#include <chrono>
#include <cstdint>

namespace gw::core {

struct transmission_params {
  std::chrono::milliseconds ack_timeout{2000};
  double ack_random_factor = 1.5;
  std::uint32_t max_retransmit = 4;
  std::chrono::milliseconds max_latency{100000};

  // ACK_TIMEOUT * ((2 ** MAX_RETRANSMIT) - 1) * ACK_RANDOM_FACTOR
  std::chrono::milliseconds max_transmit_span() const {
    return scaled(ack_timeout * ((1LL << max_retransmit) - 1), ack_random_factor);
  }
  // ACK_TIMEOUT * ((2 ** (MAX_RETRANSMIT + 1)) - 1) * ACK_RANDOM_FACTOR
  std::chrono::milliseconds max_transmit_wait() const {
    return scaled(ack_timeout * ((1LL << (max_retransmit + 1)) - 1), ack_random_factor);
  }
  // PROCESSING_DELAY is ACK_TIMEOUT; MAX_RTT = 2 * MAX_LATENCY + PROCESSING_DELAY.
  std::chrono::milliseconds max_rtt() const { return 2 * max_latency + ack_timeout; }
  // MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY + PROCESSING_DELAY (247 s with the defaults).
  std::chrono::milliseconds exchange_lifetime() const {
    return max_transmit_span() + 2 * max_latency + ack_timeout;
  }
  // MAX_TRANSMIT_SPAN + MAX_LATENCY (145 s with the defaults).
  std::chrono::milliseconds non_lifetime() const { return max_transmit_span() + max_latency; }

 private:
  static std::chrono::milliseconds scaled(std::chrono::milliseconds d, double f) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(d.count()) * f));
  }
};

}  // namespace gw::core
