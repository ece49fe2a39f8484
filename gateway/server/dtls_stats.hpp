#pragma once
// What the coaps listeners count, summed over workers into /metrics. No OpenSSL here.
#include <array>
#include <cstddef>
#include <cstdint>

namespace gw::server {

// Why a handshake failed: the `reason` label of coap_gateway_dtls_handshakes_failed_total.
enum class handshake_failure : std::uint8_t {
  none,
  unknown_identity,  // PSK identity not in psk_file (RFC 4279 §2: unknown_psk_identity)
  certificate,       // client certificate missing or not signed by client_ca_file
  alert,             // the client sent a fatal alert
  protocol,          // anything else OpenSSL refused
  timeout,           // handshake_timeout passed, or OpenSSL gave up retransmitting
  limit,             // max_sessions reached
  rate,              // handshake_rate of the source exceeded
};
inline constexpr std::size_t handshake_failure_count = 8;
const char* to_string(handshake_failure f);

struct dtls_stats {
  std::uint64_t sessions_open = 0;  // a gauge, handshakes included
  std::uint64_t handshakes_ok = 0;
  std::array<std::uint64_t, handshake_failure_count> handshakes_failed{};  // by reason
  std::uint64_t cookies_sent = 0;                                          // HelloVerifyRequests
  std::uint64_t alerts_received = 0;                                       // close_notify included
  std::uint64_t alerts_sent = 0;
  // Datagrams to a coaps port from a client with no session that were no ClientHello (plain
  // CoAP, garbage): dropped without an answer.
  std::uint64_t dropped = 0;

  dtls_stats& operator+=(const dtls_stats& o) {
    sessions_open += o.sessions_open;
    handshakes_ok += o.handshakes_ok;
    for (std::size_t i = 0; i < handshake_failure_count; ++i)
      handshakes_failed[i] += o.handshakes_failed[i];
    cookies_sent += o.cookies_sent;
    alerts_received += o.alerts_received;
    alerts_sent += o.alerts_sent;
    dropped += o.dropped;
    return *this;
  }
};

}  // namespace gw::server
