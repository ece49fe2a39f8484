#pragma once
// What one coap-load run measured, and its two renderings: JSON (for scripts and charts) and
// a human summary. Pure: no clock, no sockets.
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/load/latency_histogram.hpp"
#include "bench/load/load_options.hpp"

namespace gw::bench {

// Counters cover the requests whose (scheduled) send time falls in the measured window, so a
// warm-up's requests never leak into the figures; `answered_in_window` is what req/s uses.
struct load_results {
  double measured_s = 0;                 // the window the rates are over
  std::uint64_t sent = 0;                // requests first sent (not counting retransmissions)
  std::uint64_t answered = 0;            // of those, answered (any code)
  std::uint64_t answered_in_window = 0;  // answers received inside the window (throughput)
  std::uint64_t retransmissions = 0;
  std::uint64_t timeouts = 0;     // given up: after MAX_RETRANSMIT, or --timeout
  std::uint64_t rst = 0;          // answered with RST
  std::uint64_t separate = 0;     // empty ACK first, the response later (RFC 7252 §5.2.2)
  std::uint64_t skipped = 0;      // open loop: due while the client was at --outstanding
  std::uint64_t unfinished = 0;   // still awaiting an answer when the run ended
  std::uint64_t unmatched = 0;    // datagrams matching nothing in flight (late ACKs, strays)
  std::uint64_t send_errors = 0;  // send() failed (ENOBUFS, ECONNREFUSED after ICMP...)
  std::map<std::string, std::uint64_t> codes;  // "2.05" -> count
  latency_histogram latency;                   // nanoseconds, send (or schedule) to answer

  // Observe mode.
  std::uint64_t registered = 0;
  std::uint64_t registration_failed = 0;  // answered without Observe, error code, or timed out
  std::map<std::string, std::uint64_t> registration_codes;
  std::uint64_t notifications = 0;        // carrying a stamp from this run, received in time
  std::uint64_t stale_notifications = 0;  // older values (the registration's current value...)
  std::uint64_t duplicate_notifications = 0;
  std::uint64_t relations_ended = 0;  // error notification or one without Observe
  std::uint64_t writes = 0;
  std::uint64_t writes_answered = 0;
  std::map<std::string, std::uint64_t> write_codes;
  latency_histogram notification_latency;  // nanoseconds, stamp to arrival (CLOCK_REALTIME)

  // DTLS (--dtls-psk): the handshakes all happen before the warm-up, so no other figure
  // includes them; handshakes/s = handshakes_ok / handshake_s.
  std::uint64_t handshakes_ok = 0;
  std::uint64_t handshakes_failed = 0;  // alert, error, or not done within --handshake-timeout
  double handshake_s = 0;               // wall time from the first ClientHello to the last end
  latency_histogram handshake_latency;  // nanoseconds, one handshake's start to its end
  std::uint64_t sessions_lost = 0;      // closed by the server during the run

  double cpu_s = 0;  // the load generator's own user + system time, to see if it was the limit
};

nlohmann::json to_json(const load_options& opts, const load_results& r);
std::string summary(const load_options& opts, const load_results& r);

}  // namespace gw::bench
