#pragma once
// A client's retransmission of its Confirmable request (RFC 7252 §4.2): the first timeout is
// random in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR]; each time it expires without an ACK
// the request is sent again and the timeout doubles, until MAX_RETRANSMIT retransmissions;
// when the timeout after the last one expires, the client gives up. Pure: the caller owns the
// clock and the random number.
#include <chrono>
#include <cstdint>
#include <optional>

namespace gw::bench {

struct con_backoff {
  std::chrono::nanoseconds timeout{0};  // the wait now running
  std::uint32_t retransmits = 0;        // retransmissions sent so far

  // uniform01 in [0, 1): where in [ACK_TIMEOUT, ACK_TIMEOUT * factor] the first timeout falls.
  static con_backoff start(std::chrono::nanoseconds ack_timeout, double ack_random_factor,
                           double uniform01) {
    const double scale = 1.0 + (ack_random_factor - 1.0) * uniform01;
    return {std::chrono::nanoseconds(
                static_cast<std::int64_t>(static_cast<double>(ack_timeout.count()) * scale)),
            0};
  }

  // The running timeout expired: true means send again and wait the new `timeout`; false means
  // give up (MAX_RETRANSMIT retransmissions were sent and the last wait is over).
  bool on_timeout(std::uint32_t max_retransmit) {
    if (retransmits >= max_retransmit) return false;
    ++retransmits;
    timeout *= 2;
    return true;
  }
};

}  // namespace gw::bench
