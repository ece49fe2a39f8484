#include "gateway/core/endpoint.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include "gateway/coap/codec.hpp"
#include "gateway/coap/option_registry.hpp"

namespace gw::core {
namespace {

coap::bytes encode_empty(coap::type type, std::uint16_t mid) {
  coap::message m;
  m.type = type;
  m.code = coap::codes::empty;
  m.mid = mid;
  return coap::encode(m);
}

// RFC 7252 §5.4.1, §5.4.3, §5.4.5: unrecognised options, options with a length outside their
// range and superfluous occurrences of non-repeatable options are all "unrecognised", and so is
// a known option the registry marks as not supported: critical ones fail the request, elective
// ones are dropped before the handler sees them.
std::optional<std::string> screen_options(coap::message& msg) {
  std::vector<coap::option> kept;
  kept.reserve(msg.options.size());
  for (std::size_t i = 0; i < msg.options.size(); ++i) {
    const auto& o = msg.options[i];
    const auto* def = coap::find_option(o.number);
    bool repeated = i > 0 && msg.options[i - 1].number == o.number;
    bool recognised = def != nullptr && def->supported && o.value.size() >= def->min_length &&
                      o.value.size() <= def->max_length && (def->repeatable || !repeated);
    if (recognised) {
      kept.push_back(o);
      continue;
    }
    if (coap::is_critical(o.number)) {
      if (def != nullptr && !def->supported) return std::string(def->name) + " is not supported";
      std::string why = def == nullptr                 ? "unrecognised critical option "
                        : repeated && !def->repeatable ? "repeated critical option "
                                                       : "bad length of critical option ";
      return why + std::to_string(o.number);
    }
  }
  msg.options = std::move(kept);
  return std::nullopt;
}

// The amplification bound remembers at least as many sources as there may be observers: an
// observer evicted from its table is unverified again, and its notifications (answered only by
// 4-byte ACKs, which earn 12 bytes of budget) would be held back until its relation gives up.
// With more observers than tracked sources, LRU eviction cycles through all of them.
amplification_options guard_options(const endpoint_config& config) {
  auto options = config.amplification;
  options.max_sources = std::max(options.max_sources, config.observe.max_observers);
  return options;
}

}  // namespace

endpoint::endpoint(endpoint_config config, std::uint64_t seed, observable_fn observable,
                   local_answer_fn local)
    : config_(config),
      rng_(seed),
      limits_(config.limits),
      dedup_(config.dedup_cache_bytes),
      retransmits_(config.tx.max_retransmit),
      observable_(std::move(observable)),
      local_answer_(std::move(local)),
      observers_(config.observe),
      blocks_(config.block, config.overload_max_age_s),
      guard_(guard_options(config)) {
  dedup_.set_source_limits(&limits_);
  observers_.set_source_limits(&limits_);
  blocks_.set_source_limits(&limits_);
}

void endpoint::set_config(const endpoint_config& config) {
  config_ = config;
  retransmits_.set_max_retransmit(config.tx.max_retransmit);
  dedup_.set_max_bytes(config.dedup_cache_bytes);
  observers_.set_options(config.observe);
  blocks_.set_options(config.block, config.overload_max_age_s);
  guard_.set_options(guard_options(config));
  limits_.set_options(config.limits);
}

void endpoint::on_datagram(const peer& from, std::span<const std::uint8_t> datagram,
                           time_point now) {
  handle_datagram(from, datagram, now);
  // An ACK, an RST or a deregistration may have freed a client's slot for a waiting value:
  // take_sends encodes it.
  note_time(now);
}

void endpoint::handle_datagram(const peer& from, std::span<const std::uint8_t> datagram,
                               time_point now) {
  ++stats_.datagrams;
  // Counted before anything is sent in reply, malformed or not: the bytes arrived.
  guard_.on_received(from, datagram.size(), now);
  auto decoded = coap::decode(datagram);
  if (!decoded) {
    ++stats_.malformed;
    // RFC 7252 §4.2: a CON with a message format error is rejected with RST, when its header is
    // readable enough to name the MID; anything else is silently dropped (§4.3).
    auto header = coap::peek_header(datagram);
    if (header && header->type == coap::type::con)
      send_empty(from, coap::type::rst, header->mid, now);
    return;
  }
  update_dedup_window(now);
  auto& msg = *decoded;
  switch (msg.type) {
    case coap::type::ack:
    case coap::type::rst:
      if (msg.code.is_request()) {
        ++stats_.malformed;  // §4.2: an ACK or RST never carries a request
        return;
      }
      on_ack_or_reset(from, msg, now);
      return;
    case coap::type::con:
    case coap::type::non:
      if (msg.code.is_request()) {
        on_request(from, std::move(msg), datagram, now);
        return;
      }
      // An empty CON is a ping (§4.3); a response or a reserved class we did not ask for is
      // rejected the same way. A NON of that kind is dropped.
      if (msg.type == coap::type::con) send_empty(from, coap::type::rst, msg.mid, now);
      return;
  }
}

void endpoint::on_request(const peer& from, coap::message request,
                          std::span<const std::uint8_t> raw, time_point now) {
  // RFC 9175 §2.4: an Echo value we made for this source proves it receives; any Echo shows
  // the client speaks Echo, so it may be challenged later.
  if (const auto* echo = request.find(coap::opt::echo)) guard_.on_echo(from, echo->value, now);
  const mid_key key{from, request.mid};
  if (auto* dup = dedup_.find(key, raw, now)) {
    // §4.5: same MID and same request: answer again without acting again. While still in
    // progress with nothing sent yet, the piggybacked answer will follow (the copy joins it).
    ++stats_.duplicates;
    // Within the amplification budget, which this copy has just added to: a reply held back
    // for an unverified client goes out to a retransmission of its request.
    if (!dup->reply.empty()) send(from, dup->reply, now);
    return;
  }

  if (rate_limited(from, request, now)) return;
  ++stats_.requests;
  const request_id id = next_id_++;
  const bool con = request.type == coap::type::con;
  const bool safe = coap::is_safe(request.code);
  // A safe request is kept while it runs (bounded by the lifetime, like any exchange) and then
  // for the replay window set with its answer; an unsafe one for the dedup window, which for a
  // NON need not exceed NON_LIFETIME (§4.8.2).
  const auto lifetime = con ? config_.tx.exchange_lifetime() : config_.tx.non_lifetime();
  const duration window = safe  ? duration(lifetime)
                          : con ? config_.dedup_window
                                : std::min<duration>(config_.dedup_window, lifetime);
  const bool local = safe && local_answer_ && local_answer_(request);
  if (local) {
    dedup_.drop(key);  // local_answer_fn; the MID names this request now, as insert has it
  } else if (!dedup_.insert(key, request_fingerprint(raw), id,
                            safe ? dedup_cache::kind::safe : dedup_cache::kind::unsafe, now,
                            now + window, config_.max_message_size)) {
    ++stats_.overloaded;
    answer_now(
        from, request,
        coap::make_unavailable(request, config_.overload_max_age_s,
                               safe ? "overloaded" : "overloaded: too many writes to remember"),
        0, now);
    return;
  }

  if (raw.size() > config_.max_message_size) {
    // RFC 7959 §2.9.3: the block layer's 4.13 tells the largest body taken (Size1) and invites
    // a Block1 transfer at its preferred block size.
    ++stats_.rejected;
    answer_now(from, request,
               blocks_.too_large(request, "message larger than " +
                                              std::to_string(config_.max_message_size) +
                                              " bytes; send the body in Block1 blocks"),
               id, now);
    return;
  }
  if (request.has(coap::opt::proxy_uri) || request.has(coap::opt::proxy_scheme)) {
    ++stats_.rejected;  // §5.7.2: this server is not a forward proxy.
    answer_now(from, request,
               coap::make_error(request, coap::codes::proxying_not_supported,
                                "forward proxying is not supported"),
               id, now);
    return;
  }
  if (auto bad = screen_options(request)) {
    ++stats_.rejected;
    if (!con) {
      // §5.4.1: an unrecognised critical option in a NON causes it to be rejected, and §4.3
      // rejects a NON that cannot be processed with an RST, not a 4.02 NON answer. Cached, so a
      // copy is rejected again without being screened again.
      ++stats_.rst_sent;
      auto rst = encode_empty(coap::type::rst, request.mid);
      cache_reply(from, request.mid, id, rst, true, now);
      send(from, std::move(rst), now);
      return;
    }
    answer_now(from, request, coap::make_error(request, coap::codes::bad_option, *bad), id, now);
    return;
  }
  if (draining_) {
    ++stats_.overloaded;
    answer_now(from, request,
               coap::make_unavailable(request, config_.overload_max_age_s, "shutting down"), id,
               now);
    return;
  }

  const auto type = request.type;
  const auto mid = request.mid;
  const auto token = request.token;
  // RFC 7959: later blocks, Block1 reassembly and stored representations are answered here.
  // A later block served from the store is cut to what the budget allows (the request's
  // token and the block's options, about 40 bytes, come on top of the block). The same cap
  // serves the two places below: nothing between here and there spends or earns budget.
  const auto cap = block_size_for(from, SIZE_MAX, 40 + token.size(), now, sharing::with_owed);
  auto routed = blocks_.on_request(from, std::move(request), now, cap);
  if (auto* a = std::get_if<block_layer::answer>(&routed)) {
    answer_now(from, type, mid, token, std::move(a->response), id, now);
    return;
  }
  // A repeated final Block1 block while its request still runs: joins it, never forwarded.
  if (std::holds_alternative<block_layer::joined>(routed)) return;
  auto& forwarded = std::get<block_layer::forward>(routed);
  // A handler that cuts its own blocks (Download Content) reads the size from the request:
  // ask it for no more than the budget allows, as the block layer does (RFC 7959 §2.4).
  if (auto* b2 = forwarded.request.find(coap::opt::block2)) {
    const auto asked = coap::decode_block(b2->value);
    if (cap != 0 && asked && asked->size() > cap) {
      const auto szx = coap::szx_for_size(cap).value_or(0);
      // The same offset at the smaller size; a NUM that would not fit in 20 bits (RFC 7959
      // §2.2) leaves the request as it is (found by fuzz_endpoint).
      const auto num = static_cast<std::uint64_t>(asked->num) << (asked->szx - szx);
      if (num <= coap::max_block_num)
        forwarded.request.set_option(
            coap::opt::block2,
            coap::encode_block({static_cast<std::uint32_t>(num), asked->more, szx}));
    }
  }

  // Issue #13: requests in flight upstream, per source and per address. Refused through the
  // block layer like any answer, so that what it holds for the forward is given back.
  if (auto tier = limits_.check(limited::in_flight, in_flight_, from)) {
    ++stats_.overloaded;
    auto busy = coap::make_unavailable(forwarded.request, config_.overload_max_age_s,
                                       *tier == limit_tier::source
                                           ? "too many requests in progress from this source"
                                           : "too many requests in progress from this address");
    answer_now(from, type, mid, token, blocks_.on_response(from, forwarded, std::move(busy), now),
               id, now);
    return;
  }
  // A GET without Block2 may reach a handler that cuts its own blocks (Download Content) at
  // its default size, past the budget: ask it for the first block at the size the budget
  // allows (RFC 7959 §2.4: the server chooses). Taken out again for a handler that answered
  // whole (handle_response), so the block layer and the floor decide as for any answer. Not
  // for a registration, whose Block2 sets the observer's size for good (RFC 7959 §2.6).
  bool block2_added = false;
  if (cap != 0 && forwarded.request.code == coap::codes::get &&
      !forwarded.request.has(coap::opt::block2) && !forwarded.request.has(coap::opt::observe)) {
    forwarded.request.set_option(
        coap::opt::block2, coap::encode_block({0, false, coap::szx_for_size(cap).value_or(0)}));
    block2_added = true;
  }

  exchange ex{from, mid, type, token, false, now, {}, {}};
  ex.block2_added = block2_added;
  ex.remembered = !local;
  ex.observe = screen_observe(from, forwarded.request, now);
  if (con) {
    ex.separate_at = now + config_.separate_response_after;
    ex.separate_deadline = separate_deadlines_.push(ex.separate_at, id);
  }
  forwards_.push_back(forward_action{id, from, forwarded.request});
  ex.forwarded = std::move(forwarded);
  exchanges_.emplace(id, std::move(ex));
  in_flight_.add(from);
}

bool endpoint::rate_limited(const peer& from, const coap::message& request, time_point now) {
  const auto tier = limits_.admit(from, now);
  if (!tier) return false;
  // RFC 8516: 4.29 with Max-Age, the time after which the client may ask again. Only to a
  // source that has shown it receives (amplification.hpp): to a spoofed one, any answer is
  // reflection. Not cached: a copy is refused (or admitted) again on its own.
  const bool answer = guard_.verified(from, now);
  limits_.note_rate_refusal(*tier, answer);
  if (!answer) return true;
  auto response =
      coap::make_error(request, coap::codes::too_many_requests,
                       *tier == limit_tier::source ? "too many requests from this source"
                                                   : "too many requests from this address");
  response.add_uint_option(coap::opt::max_age, limits_.retry_after_s(from, now));
  answer_now(from, request, std::move(response), 0, now);
  return true;
}

void endpoint::answer_now(const peer& from, const coap::message& request, coap::message response,
                          request_id id, time_point now) {
  answer_now(from, request.type, request.mid, request.token, std::move(response), id, now);
}

void endpoint::answer_now(const peer& from, coap::type type, std::uint16_t mid,
                          const coap::bytes& token, coap::message response, request_id id,
                          time_point now) {
  response.token = token;
  if (type == coap::type::con) {
    response.type = coap::type::ack;
    response.mid = mid;
  } else {
    auto own = next_mid(from, now);
    if (!own) {
      cache_reply(from, mid, id, {}, true, now);  // refused: a copy gets nothing either
      return;
    }
    response.type = coap::type::non;
    response.mid = *own;
  }
  fit_error(from, response, now);
  auto bytes = coap::encode(response);
  cache_reply(from, mid, id, bytes, true, now);
  send(from, std::move(bytes), now);
}

void endpoint::cache_reply(const peer& from, std::uint16_t mid, request_id id, coap::bytes reply,
                           bool answered, time_point now) {
  if (id == 0) return;  // refused before it was recorded
  dedup_.set_reply({from, mid}, id, std::move(reply), answered, now, config_.replay_window);
}

void endpoint::on_response(request_id id, coap::message response, time_point now, answered how) {
  handle_response(id, std::move(response), now, how);
  note_time(now);
}

void endpoint::handle_response(request_id id, coap::message response, time_point now,
                               answered how) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return;
  exchange ex = std::move(it->second);
  exchanges_.erase(it);
  in_flight_.remove(ex.peer);
  separate_deadlines_.cancel(ex.separate_deadline);
  if (ex.block2_added) {
    // Block2 that on_request added: a handler that did not cut its own block never saw it
    // asked (the block layer cuts as for any answer), and one whose block holds the whole
    // body answers as it would have without it.
    if (const auto* b2 = response.find(coap::opt::block2)) {
      const auto block = coap::decode_block(b2->value);
      if (block && block->num == 0 && !block->more) {
        response.remove_options(coap::opt::block2);
        response.remove_options(coap::opt::size2);
      }
    }
    if (!response.has(coap::opt::block2)) ex.forwarded.request.remove_options(coap::opt::block2);
  }

  // The observe registry keeps the whole representation, never the block cut from it below:
  // every later notification is cut per observer (RFC 7959 §2.6).
  if (needs_echo_challenge(ex, response, now)) {
    // RFC 9175 §2.4: rather than a cut answer, ask a client that speaks Echo to prove it
    // receives; it repeats the (safe) request with the value and gets the whole answer.
    ++stats_.echo_challenges;
    const auto value = guard_.make_echo(ex.peer, now);
    response = coap::make_response(ex.forwarded.request, coap::codes::unauthorized);
    response.add_option(coap::opt::echo, coap::bytes(value.begin(), value.end()));
  }
  // Kept only for a registration that can succeed: register_observer ends the relation at
  // once for any other answer.
  std::optional<coap::message> whole;
  if (ex.observe && response.code.is_success() && !draining_) whole = response;
  // The budget decides the first block's size for an unverified client. Beyond the handler's
  // options: the token, Block2, Size2, ETag and, for a registration, Observe and Max-Age.
  const std::size_t overhead = coap::encoded_size(response) - response.payload.size() +
                               ex.token.size() + 16 + (ex.observe ? 8 : 0);
  const std::size_t block_size =
      block_size_for(ex.peer, response.payload.size(), overhead, now, sharing::with_owed);
  response = blocks_.on_response(ex.peer, ex.forwarded, std::move(response), now, block_size);
  response.token = ex.token;
  std::optional<observation_id> observation;
  if (ex.observe)
    observation = register_observer(ex, whole ? std::move(*whole) : coap::message{}, response, now);
  if (ex.type == coap::type::con && !ex.empty_acked) {
    response.type = coap::type::ack;  // piggybacked (§5.2.1)
    response.mid = ex.mid;
    fit_error(ex.peer, response, now);
    auto bytes = coap::encode(response);
    settle_reply(ex, id, bytes, how, now);
    send(ex.peer, std::move(bytes), now);
    update_dedup_window(now);
    return;
  }
  if (ex.type == coap::type::con) {
    // Separate response (§5.2.2): a CON of its own, retransmitted until ACKed. A duplicate of
    // the request keeps getting the empty ACK, which is already cached.
    cache_reply(ex.peer, ex.mid, id, encode_empty(coap::type::ack, ex.mid), true, now);
    update_dedup_window(now);
    auto own = next_mid(ex.peer, now);
    if (!own) {
      // Refused (header comment): the client's CON got the empty ACK only, and a relation
      // whose registration answer never went out ends.
      if (observation) observer_gone(observers_.remove(*observation, now));
      return;
    }
    ++stats_.separate_responses;
    response.type = coap::type::con;
    response.mid = *own;
    fit_error(ex.peer, response, now);
    auto bytes = coap::encode(response);
    // Queued even when the budget holds it back now: a retransmission may fit later.
    send(ex.peer, bytes, now);
    retransmits_.add({ex.peer, response.mid}, std::move(bytes),
                     owner{owner::kind::separate_response, id}, now, initial_timeout());
    if (observation) registering_[id] = *observation;
    return;
  }
  update_dedup_window(now);
  auto own = next_mid(ex.peer, now);
  if (!own) {
    cache_reply(ex.peer, ex.mid, id, {}, true, now);
    return;
  }
  response.type = coap::type::non;  // §5.2.3
  response.mid = *own;
  fit_error(ex.peer, response, now);
  auto bytes = coap::encode(response);
  settle_reply(ex, id, bytes, how, now);
  send(ex.peer, std::move(bytes), now);
}

void endpoint::settle_reply(const exchange& ex, request_id id, const coap::bytes& reply,
                            answered how, time_point now) {
  if (!ex.remembered) return;
  if (how == answered::later || !coap::is_safe(ex.forwarded.request.code))
    cache_reply(ex.peer, ex.mid, id, reply, true, now);
  else
    dedup_.forget({ex.peer, ex.mid}, id);
}

void endpoint::on_ack_or_reset(const peer& from, const coap::message& msg, time_point now) {
  const bool reset = msg.type == coap::type::rst;
  if (reset) ++stats_.rst_received;
  // An ACK or RST for something we never sent (or already settled) changes nothing.
  auto settled = retransmits_.settle({from, msg.mid}, now);
  if (!settled && reset) {
    // RFC 7641 §3.6: an RST rejects a NON notification too. Its MID was random to this peer
    // as well, so the RST proves the source as one to a CON does.
    if (auto id = observers_.non_with_mid(from, msg.mid)) {
      guard_.verify(from, verified_by::rst, now);
      observer_gone(observers_.remove(*id, now));
      return;
    }
  }
  if (!settled) {
    ++stats_.unmatched_acks;
    guard_.on_unmatched(from, now);  // a source guessing MIDs is locked out (amplification.hpp)
    return;
  }
  // The MID of a CON of ours, which started at a random value towards this peer: only a
  // source that received it could name it (RFC 9175 §2.4's proof of reachability). RFC 7252
  // §4.2 lets a CON be answered by an RST as well as an ACK, so either proves it.
  guard_.verify(from, reset ? verified_by::rst : verified_by::ack, now);
  const auto& whose = settled->owner;
  if (whose.what == owner::kind::separate_response) {
    // RFC 7641 §3.6: a registration's separate response is its first notification; an RST of
    // it rejects the relation like an RST of any later one.
    auto reg = registering_.find(whose.id);
    if (reg == registering_.end()) return;
    const auto observation = reg->second;
    registering_.erase(reg);
    if (reset) observer_gone(observers_.remove(observation, now));
    return;
  }
  if (whose.what != owner::kind::notification) return;
  // RFC 7641 §3.6: an RST to a notification ends the relation; an ACK lets the newest value
  // that waited behind it go out.
  if (reset) {
    observer_gone(observers_.remove(whose.id, now));
  } else {
    observers_.on_acked(whose.id, now, settled->round_trip);
  }
}

void endpoint::resend(const retransmit_queue::resend& r, time_point now) {
  if (r.owner.what == owner::kind::notification) {
    // Deregistered (Observe 1, a new registration that failed): nothing more to deliver.
    if (!observers_.in_flight(r.owner.id)) {
      retransmits_.settle(r.key);
      return;
    }
    // RFC 7641 §4.5.2: a newer value replaces the one in flight instead of waiting behind it,
    // and takes over its transmission: it goes out now, at the retransmission the old one was
    // due for, with a new MID, and the retransmission counter and timeout carry on (no reset,
    // so a lossy link sees no more traffic than for the old one).
    if (auto newer = observers_.take_replacement(r.owner.id, now)) {
      const peer to = r.key.peer;
      auto encoded = encode_notification(*newer, owner::kind::notification, now);
      if (!encoded) {
        retransmits_.settle(r.key);  // the relation is gone with it
        return;
      }
      auto& [key, bytes] = *encoded;
      send(to, bytes, now);
      retransmits_.replace(r.key, key, std::move(bytes));
      return;
    }
  }
  // One that does not fit the budget is skipped; the exchange still gives up at MAX_RETRANSMIT.
  send(r.key.peer, *r.datagram, now);
}

void endpoint::set_draining(bool draining) {
  draining_ = draining;
  if (!draining) return;
  // Shutdown: observers are sent nothing further and their upstream watches stop. A final
  // notification already sent (shutdown.observers: end sends one to every observer just
  // before) keeps being retransmitted until ACKed or the grace period ends: it is what tells
  // the client to re-register elsewhere.
  retransmits_.drop(owner::kind::notification);
  registering_.clear();
  for (auto& resource : observers_.clear())
    events_.push_back({observe_event::kind::stopped, std::move(resource), {}});
}

void endpoint::on_timer(time_point now) {
  for (auto id : separate_deadlines_.take_due(now)) {
    auto it = exchanges_.find(id);
    if (it == exchanges_.end() || it->second.empty_acked) continue;
    auto& ex = it->second;
    if (!mids_.available(ex.peer, now)) {
      // No MID for a separate response towards this peer: without the empty ACK the client
      // keeps retransmitting and gets the answer piggybacked (header comment).
      ++stats_.mid_exhausted;
      continue;
    }
    ex.empty_acked = true;
    auto ack = encode_empty(coap::type::ack, ex.mid);
    cache_reply(ex.peer, ex.mid, id, ack, false, now);
    send(ex.peer, std::move(ack), now);
  }

  std::vector<retransmit_queue::resend> resends;
  std::vector<owner> given_up;
  retransmits_.on_timer(now, resends, given_up);
  for (const auto& r : resends) resend(r, now);
  shapes_.clear();
  stats_.gave_up += given_up.size();
  for (const auto& o : given_up) {
    if (o.what == owner::kind::notification) observer_gone(observers_.remove(o.id, now));
    // RFC 7641 §4.5: a registration whose separate response was never acknowledged ends too.
    if (o.what == owner::kind::separate_response) {
      if (auto reg = registering_.find(o.id); reg != registering_.end()) {
        observer_gone(observers_.remove(reg->second, now));
        registering_.erase(reg);
      }
    }
  }

  observers_.on_timer(now);
  note_time(now);

  dedup_.expire(now);
  mids_.expire(now);
  blocks_.on_timer(now);
  limits_.expire(now);  // memory only: a full bucket is the same as none
  guard_.expire(now);   // memory only: a lapsed source is treated as new when looked up
  update_dedup_window(now);
}

std::optional<time_point> endpoint::next_deadline() const {
  std::optional<time_point> next;
  for (auto t : {separate_deadlines_.next(), retransmits_.next_deadline(), dedup_.next_expiry(),
                 mids_.next_expiry(), observers_.next_deadline(), blocks_.next_deadline()}) {
    if (t && (!next || *t < *next)) next = t;
  }
  return next;
}

void endpoint::send_empty(const peer& to, coap::type type, std::uint16_t mid, time_point now) {
  if (send(to, encode_empty(type, mid), now) && type == coap::type::rst) ++stats_.rst_sent;
}

bool endpoint::send(const peer& to, coap::bytes datagram, time_point now) {
  if (!guard_.try_send(to, datagram.size(), now)) return false;
  sends_.push_back({to, std::move(datagram)});
  return true;
}

std::size_t endpoint::block_size_for(const peer& to, std::size_t payload, std::size_t overhead,
                                     time_point now, sharing share) const {
  // The floor (amplification.hpp): small answers are never cut.
  if (payload <= config_.amplification.floor_payload) return 0;
  const auto allowance = guard_.allowance(to, now);
  if (!allowance) return 0;
  // Shared with the answers still owed to the same client: a burst of requests (64
  // registrations at once) would otherwise see its first answers take the whole budget in
  // 1024-byte blocks and the rest held. One at a time (Block2 follow-ups), it is all there.
  const std::size_t answers = share == sharing::with_owed ? in_flight_.of_source(to) + 1 : 1;
  const auto budget = static_cast<std::size_t>(*allowance) / answers;
  return std::size_t{16} << szx_within(budget, overhead);
}

bool endpoint::needs_echo_challenge(const exchange& ex, const coap::message& response,
                                    time_point now) const {
  // Never to a client that has not sent an Echo itself: to Exosite devices a 4.01 means "CIK
  // rejected", and some re-provision. Only for a safe request, which the client may repeat
  // without effect; an unsafe one has run, and its answer goes out as the budget allows.
  if (!coap::is_safe(ex.forwarded.request.code) || !response.code.is_success()) return false;
  if (!guard_.echo_capable(ex.peer, now)) return false;
  const auto allowance = guard_.allowance(ex.peer, now);
  if (!allowance) return false;  // verified, or no bound
  // What it would cost whole: the answer with the request's token.
  return coap::encoded_size(response) + ex.token.size() > *allowance;
}

void endpoint::fit_error(const peer& to, coap::message& response, time_point now) const {
  if (response.code.is_success() || response.payload.empty()) return;
  const auto allowance = guard_.allowance(to, now);
  if (!allowance) return;
  const auto size = coap::encoded_size(response);
  if (size <= *allowance) return;
  // RFC 7252 §5.5.2: the diagnostic payload is optional; the code is what the client needs.
  // As much of it as fits stays (its first words say the most), cut on a UTF-8 character
  // boundary; the payload marker goes with the last byte.
  const auto over = size - *allowance;
  auto keep = response.payload.size() > over ? response.payload.size() - over : 0;
  while (keep > 0 && (response.payload[keep] & 0xC0) == 0x80) --keep;
  response.payload.resize(keep);
}

std::optional<std::uint16_t> endpoint::next_mid(const peer& to, time_point now) {
  // §4.4: never the same MID towards one peer within EXCHANGE_LIFETIME. That also keeps clear
  // of any CON still awaiting its ACK, which is given up within MAX_TRANSMIT_WAIT.
  auto mid = mids_.next(to, now, config_.tx.exchange_lifetime(), rng_);
  if (!mid) ++stats_.mid_exhausted;
  return mid;
}

void endpoint::update_dedup_window(time_point now) {
  // The youngest eviction within the last window bounds how long a write is surely remembered.
  const duration window = config_.dedup_window;
  if (auto age = dedup_.take_unsafe_eviction_age(now)) {
    if (!youngest_eviction_ || *age <= youngest_eviction_->age ||
        now - youngest_eviction_->at >= window)
      youngest_eviction_ = eviction_note{now, *age};
  }
  if (youngest_eviction_ && now - youngest_eviction_->at >= window) youngest_eviction_.reset();
  stats_.dedup_effective_window =
      youngest_eviction_ ? std::min(window, youngest_eviction_->age) : window;
}

duration endpoint::initial_timeout() {
  // §4.2: a random duration between ACK_TIMEOUT and ACK_TIMEOUT * ACK_RANDOM_FACTOR.
  std::uniform_real_distribution<double> factor(1.0, config_.tx.ack_random_factor);
  auto ms = static_cast<double>(config_.tx.ack_timeout.count()) * factor(rng_);
  return std::chrono::duration_cast<duration>(std::chrono::duration<double, std::milli>(ms));
}

}  // namespace gw::core
