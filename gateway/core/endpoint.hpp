#pragma once
// The CoAP message layer (RFC 7252 §4) for one worker, sans-I/O. The server feeds it datagrams,
// handler responses and timer ticks with the current time, and drains what to send, which
// requests to hand to the handler, and when to be called next.
//
//   CON request -> forward; piggybacked ACK if the handler answers within
//                  `separate_response_after`, else an empty ACK then and a CON response later,
//                  retransmitted until ACKed, reset or given up.
//   NON request -> forward; NON response.
//   duplicate   -> the cached reply again (or nothing yet); never forwarded twice.
//   empty CON   -> RST (CoAP ping). Broken CON with a readable header -> RST; otherwise dropped.
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <utility>
#include <unordered_map>
#include <vector>

#include "gateway/coap/message.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/deadline_queue.hpp"
#include "gateway/core/dedup_cache.hpp"
#include "gateway/core/peer.hpp"
#include "gateway/core/retransmit_queue.hpp"
#include "gateway/core/transmission_params.hpp"

namespace gw::core {

struct endpoint_config {
  transmission_params tx;
  duration separate_response_after = std::chrono::seconds(1);
  std::size_t max_message_size = 1152;
  std::size_t dedup_cache_bytes = 16 * 1024 * 1024;
  // Max-Age on the 5.03 answered when the endpoint cannot take a request.
  std::uint32_t overload_max_age_s = 5;
};

struct endpoint_stats {
  std::uint64_t datagrams = 0;
  std::uint64_t requests = 0;
  std::uint64_t malformed = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rst_sent = 0;
  std::uint64_t rst_received = 0;
  std::uint64_t separate_responses = 0;
  std::uint64_t gave_up = 0;
  std::uint64_t rejected = 0;  // 4.02, 4.13, 5.05 answered by the message layer itself
  std::uint64_t overloaded = 0;
};

struct send_action {
  core::peer peer;
  coap::bytes datagram;
};

struct forward_action {
  request_id id;
  core::peer peer;
  coap::message request;
};

class endpoint {
 public:
  endpoint(endpoint_config config, std::uint64_t seed);

  void on_datagram(const peer& from, std::span<const std::uint8_t> datagram, time_point now);
  // The handler's answer to a forwarded request. Token, type and MID are filled in here.
  // Ignored when the exchange is gone.
  void on_response(request_id id, coap::message response, time_point now);
  void on_timer(time_point now);

  std::vector<send_action> take_sends() { return std::exchange(sends_, {}); }
  std::vector<forward_action> take_forwards() { return std::exchange(forwards_, {}); }
  std::optional<time_point> next_deadline() const;

  // While draining for shutdown, new requests get 5.03 instead of being forwarded; ACKs and
  // RSTs of what is in flight are still taken.
  void set_draining(bool draining) { draining_ = draining; }
  // Nothing forwarded unanswered and no CON awaiting its ACK.
  bool idle() const { return exchanges_.empty() && retransmits_.size() == 0; }

  const endpoint_stats& stats() const { return stats_; }
  std::uint64_t retransmissions() const { return retransmits_.retransmissions(); }
  std::uint64_t dedup_evictions() const { return dedup_.evictions(); }
  std::size_t in_flight() const { return exchanges_.size(); }
  const endpoint_config& config() const { return config_; }

 private:
  struct exchange {
    core::peer peer;
    std::uint16_t mid;
    coap::type type;
    coap::bytes token;
    bool empty_acked = false;
    time_point separate_at;
  };

  void on_request(const peer& from, coap::message request, std::span<const std::uint8_t> raw,
                  time_point now);
  void on_ack_or_reset(const peer& from, const coap::message& msg);
  // Sends a response from the message layer itself (error answers) and caches it.
  void answer_now(const peer& from, const coap::message& request, coap::message response,
                  request_id id);
  void send_empty(const peer& to, coap::type type, std::uint16_t mid);
  std::uint16_t next_mid(const peer& to);
  duration initial_timeout();

  endpoint_config config_;
  std::mt19937_64 rng_;
  std::uint16_t mid_counter_;
  request_id next_id_ = 1;
  bool draining_ = false;

  dedup_cache dedup_;
  retransmit_queue retransmits_;
  std::unordered_map<request_id, exchange> exchanges_;
  deadline_queue<request_id> separate_deadlines_;

  std::vector<send_action> sends_;
  std::vector<forward_action> forwards_;
  endpoint_stats stats_;
};

}  // namespace gw::core
