#pragma once
// The CoAP message layer (RFC 7252 §4) for one worker, sans-I/O. The server feeds it datagrams,
// handler responses and timer ticks with the current time, and drains what to send, which
// requests to hand to the handler, and when to be called next.
//
//   CON request -> forward; piggybacked ACK if the handler answers within
//                  `separate_response_after`, else an empty ACK then and a CON response later,
//                  retransmitted until ACKed, reset or given up.
//   NON request -> forward; NON response.
//   duplicate   -> the cached reply again (or nothing yet); never forwarded twice. A copy of
//                  an answered safe request (GET, FETCH) is a duplicate only within
//                  `replay_window` of its answer, so fixed-MID pollers see fresh values; a copy
//                  of an unsafe one within `dedup_window` of its arrival, whatever the load.
//   MIDs        -> our own messages take MIDs per peer, never reused towards a peer within
//                  EXCHANGE_LIFETIME. A peer that has used all 65,536 within it is refused,
//                  not queued: no empty ACK is sent for its CON requests (the answer comes
//                  piggybacked, however late); a NON response, a separate response already
//                  owed after an empty ACK, or a notification (whose observer is then removed,
//                  RFC 7641 §4.5) is not sent. Each refusal counts in stats().mid_exhausted.
//   empty CON   -> RST (CoAP ping). Broken CON with a readable header -> RST; otherwise dropped.
//   limits      -> per source and per address (source_limits.hpp): a new request beyond its
//                  token buckets is dropped, or answered 4.29 with Max-Age (RFC 8516) when its
//                  source is verified (an unverified one could be a spoofed victim); one beyond
//                  the in-flight limit is answered 5.03 with Max-Age; safe dedup entries,
//                  Block1 transfers and Observe relations are bounded by their stores.
//   amplification -> every datagram out goes through one gate (send()): towards a source not
//                  verified, bytes sent stay within amplification.factor x bytes received
//                  (gateway/core/amplification.hpp: the rule, the floor, what is cut and what
//                  is skipped). An ACK or RST matching one of our CONs verifies its source
//                  (bounded against guessing), and so does an Echo value we made for it; a
//                  client that sent Echo before gets 4.01 + Echo instead of a cut answer to
//                  a safe request (RFC 9175 §2.4).
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/coap/message.hpp"
#include "gateway/core/amplification.hpp"
#include "gateway/core/block_layer.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/deadline_queue.hpp"
#include "gateway/core/dedup_cache.hpp"
#include "gateway/core/mid_allocator.hpp"
#include "gateway/core/observe_registry.hpp"
#include "gateway/core/peer.hpp"
#include "gateway/core/resource_key.hpp"
#include "gateway/core/retransmit_queue.hpp"
#include "gateway/core/source_limits.hpp"
#include "gateway/core/state_snapshot.hpp"
#include "gateway/core/transmission_params.hpp"

namespace gw::core {

struct endpoint_config {
  transmission_params tx;
  duration separate_response_after = std::chrono::seconds(1);
  std::size_t max_message_size = 1152;
  std::size_t dedup_cache_bytes = 16 * 1024 * 1024;  // a quarter for safe requests
  // A copy of an answered safe request arriving this long after the answer runs again
  // (RFC 7252 §4.5 lets safe requests relax duplicate handling); at most tx.ack_timeout.
  duration replay_window = std::chrono::seconds(1);
  // How long a copy of an unsafe request is a duplicate, from its arrival; NON requests use at
  // most NON_LIFETIME. EXCHANGE_LIFETIME by default.
  duration dedup_window = std::chrono::seconds(247);
  // Max-Age on the 5.03 answered when the endpoint cannot take a request.
  std::uint32_t overload_max_age_s = 5;
  observe_options observe;
  block_options block;  // its lifetime should be tx.exchange_lifetime()
  amplification_options amplification;
  source_limit_options limits;
};

struct endpoint_stats {
  std::uint64_t datagrams = 0;
  std::uint64_t requests = 0;
  std::uint64_t malformed = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rst_sent = 0;
  std::uint64_t rst_received = 0;
  std::uint64_t separate_responses = 0;
  std::uint64_t non_notifications = 0;  // observe_options::non_notifications
  std::uint64_t gave_up = 0;
  std::uint64_t rejected = 0;  // 4.02, 4.13, 5.05 answered by the message layer itself
  std::uint64_t overloaded = 0;
  std::uint64_t mid_exhausted = 0;  // messages not sent: every MID towards the peer in use
  // The amplification bound (amplification.hpp): datagrams not sent and their bytes, sources
  // verified now (a gauge), and ACKs that matched nothing we sent (a source guessing MIDs to
  // get itself verified shows here).
  std::uint64_t amplification_skipped = 0;
  std::uint64_t amplification_held_bytes = 0;
  std::uint64_t verified_sources = 0;
  std::uint64_t unmatched_acks = 0;  // ACKs and RSTs
  std::uint64_t verified_by_ack = 0;
  std::uint64_t verified_by_rst = 0;
  std::uint64_t verified_by_echo = 0;
  std::uint64_t verification_lockouts = 0;  // sources barred from ACK/RST verification
  std::uint64_t echo_challenges = 0;        // 4.01 + Echo answered
  // How long an answered unsafe request is surely remembered: the configured dedup window, or
  // less when one was evicted within the last window (the age of the youngest evicted). Summed
  // over workers as the minimum; unset when no worker reported.
  std::optional<duration> dedup_effective_window;
  // Per-source and per-address limits (source_limits.hpp): refusals by resource and tier.
  limit_stats limits;
  std::size_t in_flight = 0;           // a gauge: requests forwarded and not yet answered
  std::size_t dedup_safe_running = 0;  // a gauge: GETs whose answer has not come yet

  // For the metric: 0 when no worker reported.
  double dedup_window_seconds() const {
    return std::chrono::duration<double>(dedup_effective_window.value_or(duration{})).count();
  }

  // Sums another worker's counters; kept beside the fields so a new counter is summed too.
  endpoint_stats& operator+=(const endpoint_stats& o) {
    datagrams += o.datagrams;
    requests += o.requests;
    malformed += o.malformed;
    duplicates += o.duplicates;
    rst_sent += o.rst_sent;
    rst_received += o.rst_received;
    separate_responses += o.separate_responses;
    non_notifications += o.non_notifications;
    gave_up += o.gave_up;
    rejected += o.rejected;
    overloaded += o.overloaded;
    mid_exhausted += o.mid_exhausted;
    amplification_skipped += o.amplification_skipped;
    amplification_held_bytes += o.amplification_held_bytes;
    verified_sources += o.verified_sources;
    unmatched_acks += o.unmatched_acks;
    limits += o.limits;
    in_flight += o.in_flight;
    dedup_safe_running += o.dedup_safe_running;
    verified_by_ack += o.verified_by_ack;
    verified_by_rst += o.verified_by_rst;
    verified_by_echo += o.verified_by_echo;
    verification_lockouts += o.verification_lockouts;
    echo_challenges += o.echo_challenges;
    if (o.dedup_effective_window &&
        (!dedup_effective_window || *o.dedup_effective_window < *dedup_effective_window))
      dedup_effective_window = o.dedup_effective_window;
    return *this;
  }
};

struct send_action {
  core::peer peer;
  coap::bytes datagram;
};

// Which observable resource a request names, if any (RFC 7641 §1.2: the server decides what a
// resource is; §4.1: it may decline to observe one). translate/ provides it; the endpoint keys
// its observer lists by what it returns and never reads Uri-Path or Uri-Query itself.
using observable_fn = std::function<std::optional<resource_key>(const coap::message&)>;

// Whether the handler answers a request at once and from nothing but the request (no upstream
// call, no state): true only when it surely does (translate::answered_locally). Such a safe
// request is not remembered for duplicates: a copy, even one in the same receive batch, is
// answered again as cheaply (RFC 7252 §4.5 lets a safe request be processed again), and a
// flood of discovery requests or scans of unknown paths never touches the duplicate cache.
using local_answer_fn = std::function<bool(const coap::message&)>;

// A resource gained its first observer (start watching it upstream) or lost its last one.
struct observe_event {
  enum class kind { started, stopped } what;
  resource_key resource;
  coap::message request;  // the registering GET, for `started`
};

// What endpoint::restore took from a snapshot and what it refused (limits, age, bad records).
struct restore_stats {
  std::size_t observers = 0;
  std::size_t observers_dropped = 0;
  std::size_t requests = 0;
  std::size_t requests_dropped = 0;
};

// A restored relation whose last message is older than Max-Age plus this is dropped: its client
// has either re-registered by now (libexositecoap does when Max-Age runs out) or given up.
inline constexpr duration restore_margin = std::chrono::seconds(30);

struct forward_action {
  request_id id;
  core::peer peer;
  coap::message request;
};

class endpoint {
 public:
  // `observable` classifies GETs; an empty one makes nothing observable (every Observe option
  // is then ignored and requests are answered as plain GETs). An empty `local` remembers every
  // request.
  endpoint(endpoint_config config, std::uint64_t seed, observable_fn observable = {},
           local_answer_fn local = {});
  // Its stores keep a pointer to its source_limits: neither copied nor moved.
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  void on_datagram(const peer& from, std::span<const std::uint8_t> datagram, time_point now);
  // The handler's answer to a forwarded request. Token, type and MID are filled in here.
  // Ignored when the exchange is gone. `in_place`: answered without waiting on anything (the
  // discovery document, a local error): the answer to a safe request is then not kept for
  // replay, since a copy is answered afresh at the same cost (RFC 7252 §4.5 lets a safe
  // request be processed again); the cache keeps its room for answers that cost an upstream
  // call, and a flood of such GETs does not churn it.
  enum class answered : bool { later, in_place };
  void on_response(request_id id, coap::message response, time_point now,
                   answered how = answered::later);
  void on_timer(time_point now);

  // What to send, in order. Notifications of a change are encoded here, at most
  // `max_notifications` per call: a caller that sends each batch before taking the next gets
  // the first datagrams of a fan-out to thousands of observers on the wire while the rest are
  // still to be encoded. Call until empty; the default takes everything at once.
  std::vector<send_action> take_sends(std::size_t max_notifications = SIZE_MAX);
  std::vector<forward_action> take_forwards() { return std::exchange(forwards_, {}); }
  std::vector<observe_event> take_observe_events() { return std::exchange(events_, {}); }

  // A new representation of an observed resource (RFC 7641 §4.2): a CON notification to every
  // observer. For one whose previous notification is unacknowledged, the newest value replaces
  // it at its next retransmission (RFC 7641 §4.5.2) or follows its ACK; a client has at most
  // observe.max_in_flight_per_client notifications in flight, the rest wait (newest value
  // only). A value larger than one block (at the observer's registered Block2 size, or
  // block.block_size) or than max_message_size goes out as its first block with Block2, Size2
  // and ETag; the client fetches the rest with GET + Block2, which runs the read again and is
  // cut by the block layer (RFC 7959 §2.6). Separate responses are never held back.
  void notify(const resource_key& resource, coap::message content, time_point now);
  // The resource failed for good (4.01, 4.03 upstream): a last notification without Observe to
  // every observer, who are then forgotten.
  void notify_final(const resource_key& resource, coap::message content, time_point now);
  std::size_t observers() const { return observers_.observers(); }
  // System time minus steady time (the server measures it): Observe numbers count from the
  // Unix epoch so that a new relation, here or on another instance, is fresher than an old one
  // (RFC 7641 §4.4). The core reads no clock itself.
  void set_wall_clock_offset(duration offset) { observers_.set_wall_offset(offset); }
  block_stats blocks() const { return blocks_.stats(); }
  std::optional<time_point> next_deadline() const;

  // A restart on the same host (gateway/core/state_snapshot.hpp, endpoint_restore.cpp). The
  // snapshot: every observer relation with its resource's latest representation, and every
  // answered unsafe request still in its dedup window with its cached reply.
  worker_snapshot snapshot(time_point now) const;
  // Re-creates what `s` holds, trusting nothing a fresh registration or request would not get:
  // observe and dedup limits apply, records naming a socket index at or above `sockets`,
  // malformed tokens, keys or replies, and relations older than Max-Age + restore_margin are
  // dropped. Resources that gain their first observer raise `started` events (their long-polls
  // resume). Call before the first datagram; the wall clock offset must be set.
  restore_stats restore(const worker_snapshot& s, std::size_t sockets, time_point now);
  // Scale-in (shutdown.observers: end): every observer gets `content` (a 5.03) as a final
  // notification without Observe (RFC 7641 §3.2: a non-2.xx response ends the relation) and is
  // forgotten. Call before set_draining.
  void end_observations(const coap::message& content, time_point now);

  // While draining for shutdown, new requests get 5.03 instead of being forwarded; ACKs and
  // RSTs of what is in flight are still taken.
  void set_draining(bool draining);
  // Nothing forwarded unanswered and no CON awaiting its ACK.
  bool idle() const {
    return exchanges_.empty() && retransmits_.size() == 0 && !observers_.fanning_out();
  }

  // By value: the effective dedup window is the configured one until an event updates it.
  endpoint_stats stats() const {
    endpoint_stats s = stats_;
    if (!s.dedup_effective_window) s.dedup_effective_window = config_.dedup_window;
    const auto a = guard_.stats();
    s.amplification_skipped = a.skipped_sends;
    s.amplification_held_bytes = a.held_bytes;
    s.verified_sources = a.verified_sources;
    s.limits = limits_.stats();
    s.in_flight = exchanges_.size();
    s.dedup_safe_running = dedup_.safe_running();
    s.verified_by_ack = a.verified_by_ack;
    s.verified_by_rst = a.verified_by_rst;
    s.verified_by_echo = a.verified_by_echo;
    s.verification_lockouts = a.lockouts;
    return s;
  }
  // `who` has proven it receives what is sent to its address (a completed DTLS handshake):
  // the amplification bound no longer applies to it until it is idle for verified_idle.
  void mark_verified(const peer& who, time_point now) { guard_.mark_verified(who, now); }
  bool verified(const peer& who, time_point now) const { return guard_.verified(who, now); }
  std::uint64_t retransmissions() const { return retransmits_.retransmissions(); }
  std::uint64_t dedup_evictions() const { return dedup_.evictions(); }
  std::size_t in_flight() const { return exchanges_.size(); }
  const endpoint_config& config() const { return config_; }
  // A reload: new limits and timings apply to what starts from now on; nothing in flight is
  // dropped.
  void set_config(const endpoint_config& config);

 private:
  struct exchange {
    core::peer peer;
    std::uint16_t mid;
    coap::type type;
    coap::bytes token;
    bool empty_acked = false;
    time_point separate_at;
    // A GET with Observe 0 on an observable resource: register it there on a 2.xx answer.
    std::optional<resource_key> observe;
    block_layer::forward forwarded;  // the whole request the handler got
    // Its separate-response deadline, cancelled when the answer comes first (the common case):
    // otherwise every CON would wake the worker `separate_response_after` later for nothing.
    deadline_queue<request_id>::handle separate_deadline = 0;
    // on_request asked the handler for a first block within the amplification budget.
    bool block2_added = false;
    // In the duplicate cache (not a local answer, local_answer_fn): its reply is kept or
    // dropped there once it is answered.
    bool remembered = true;
  };

  void handle_datagram(const peer& from, std::span<const std::uint8_t> datagram, time_point now);
  void handle_response(request_id id, coap::message response, time_point now, answered how);
  void on_request(const peer& from, coap::message request, std::span<const std::uint8_t> raw,
                  time_point now);
  void on_ack_or_reset(const peer& from, const coap::message& msg, time_point now);
  // RFC 7641 §3.1, §3.6: on an observable resource, Observe 0 registers (once answered) and
  // Observe 1 ends the relation of (peer, token) on that resource; a GET without Observe ends
  // nothing. Returns the resource to register on.
  std::optional<resource_key> screen_observe(const peer& from, const coap::message& request,
                                             time_point now);
  // Registers with the whole `representation` (unused, and may be empty, when `response` is
  // not a 2.xx or the endpoint is draining: the relation then ends); marks `response` (what
  // goes out, perhaps one block of it). Returns the relation the response now carries, if any.
  std::optional<observation_id> register_observer(const exchange& ex, coap::message representation,
                                                  coap::message& response, time_point now);
  // The time at which take_sends encodes what the observe registry has decided (after every
  // call that may have made it decide something).
  void note_time(time_point now) { unsent_at_ = now; }
  // Encodes and sends about `max` notifications the registry decided (its outbox, then the
  // observers of a change it has not visited yet), and what it decides meanwhile (a MID
  // refused ends a relation, which can free a slot for another).
  void encode_unsent(std::size_t max);
  void send_notification(const observe_registry::notification& n, owner::kind kind, time_point now);
  // The notification cut to fit (first block at the observer's size) and encoded as a CON with
  // a new MID; nullopt when no MID is free (the relation is then removed).
  std::optional<std::pair<mid_key, coap::bytes>> encode_notification(
      const observe_registry::notification& n, owner::kind kind, time_point now);
  // The datagram of `n` at block size `szx`, MID 0: from shapes_ when an earlier notification
  // of the same change had the same shape, with this one's token written in.
  coap::bytes shaped_datagram(const observe_registry::notification& n, std::uint8_t szx);
  // A retransmission that fell due; a notification's may be replaced by a newer value.
  void resend(const retransmit_queue::resend& r, time_point now);
  void observer_gone(std::optional<resource_key> last_of_resource);
  // Sends a response from the message layer itself (error answers) and caches it.
  void answer_now(const peer& from, const coap::message& request, coap::message response,
                  request_id id, time_point now);
  void answer_now(const peer& from, coap::type type, std::uint16_t mid, const coap::bytes& token,
                  coap::message response, request_id id, time_point now);
  // Caches the reply to request `id`: `answered` when it is the final answer.
  // The answer to `ex` kept for copies of its request, or its entry dropped for a safe
  // request answered in place (on_response).
  void settle_reply(const exchange& ex, request_id id, const coap::bytes& reply, answered how,
                    time_point now);
  void cache_reply(const peer& from, std::uint16_t mid, request_id id, coap::bytes reply,
                   bool answered, time_point now);
  void send_empty(const peer& to, coap::type type, std::uint16_t mid, time_point now);
  // The one way out: every datagram to a peer passes the amplification gate here. False when
  // it was not sent (over the budget of an unverified source).
  bool send(const peer& to, coap::bytes datagram, time_point now);
  // The Block2 size cap to hand the block layer for an answer of `payload` bytes whose
  // encoding, without payload and block options, takes `overhead` bytes: 0 (no cap) for a
  // verified peer or an answer within the floor, else the largest block that fits the budget,
  // shared with the answers still owed to the peer with `with_owed` (this one not yet counted).
  enum class sharing : bool { alone, with_owed };
  std::size_t block_size_for(const peer& to, std::size_t payload, std::size_t overhead,
                             time_point now, sharing share = sharing::alone) const;
  // A successful answer to a safe request that would not go out whole to an unverified
  // client that speaks Echo: it gets 4.01 + Echo instead.
  bool needs_echo_challenge(const exchange& ex, const coap::message& response,
                            time_point now) const;
  // An error answer that would not fit the budget keeps only as much of its diagnostic
  // payload as fits, perhaps none.
  void fit_error(const peer& to, coap::message& response, time_point now) const;
  // nullopt when every MID towards `to` is in use (see the header comment).
  std::optional<std::uint16_t> next_mid(const peer& to, time_point now);
  // Keeps stats_.dedup_effective_window current.
  void update_dedup_window(time_point now);
  duration initial_timeout();

  // A new request from `from` beyond its token buckets: dropped, or 4.29 to a verified source.
  // True when it was refused.
  bool rate_limited(const peer& from, const coap::message& request, time_point now);

  endpoint_config config_;
  std::mt19937_64 rng_;
  // Before the stores that point to it.
  source_limits limits_;
  source_counts in_flight_;  // exchanges_ per source and per address
  request_id next_id_ = 1;
  bool draining_ = false;

  dedup_cache dedup_;
  mid_allocator mids_;
  struct eviction_note {
    time_point at;
    duration age;
  };
  std::optional<eviction_note> youngest_eviction_;  // within the last dedup window
  retransmit_queue retransmits_;
  std::unordered_map<request_id, exchange> exchanges_;
  // Exchanges awaiting the handler's answer, per peer: they share its amplification budget.
  // One change fanned out to thousands of observers differs from one observer to the next in
  // MID and token only (and in Observe when a relation ran ahead of the clock): encoded once per
  // shape, copied and patched for each. Emptied after each fan-out; holding the content keeps
  // its address from being reused while it is a key.
  struct notification_shape {
    std::shared_ptr<const coap::message> content;
    std::size_t token_size;
    std::optional<std::uint32_t> observe, max_age;
    std::uint8_t szx;
    bool confirmable;
    coap::bytes datagram;
  };
  std::vector<notification_shape> shapes_;
  time_point unsent_at_{};  // the latest time the endpoint was given
  deadline_queue<request_id> separate_deadlines_;
  observable_fn observable_;
  local_answer_fn local_answer_;
  observe_registry observers_;
  // Separate CON responses that carried a registration, by the exchange that sent them: an RST
  // of one ends that relation (RFC 7641 §3.6), as an RST of a notification does.
  std::unordered_map<request_id, observation_id> registering_;
  std::vector<observe_event> events_;
  block_layer blocks_;
  amplification_guard guard_;

  std::vector<send_action> sends_;
  std::vector<forward_action> forwards_;
  endpoint_stats stats_;
};

}  // namespace gw::core
