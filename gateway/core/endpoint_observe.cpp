// endpoint's Observe side (RFC 7641): which requests register or end a relation, and the
// fan-out of a change to every observer, encoded once per shape. Kept apart from endpoint.cpp
// (the message layer) as endpoint_restore.cpp is: the registry decides, this sends.
#include <algorithm>

#include "gateway/coap/codec.hpp"
#include "gateway/core/endpoint.hpp"

namespace gw::core {

std::optional<resource_key> endpoint::screen_observe(const peer& from, const coap::message& request,
                                                     time_point now) {
  if (request.code != coap::codes::get || !observable_) return std::nullopt;
  // Observe 0 arrives as zero bytes or as one byte 0x00; both read as 0.
  const auto observe = request.uint_option(coap::opt::observe);
  // RFC 7641 §2: a request's Observe is 0 (register) or 1 (deregister); others are ignored.
  if (observe != 0u && observe != 1u) return std::nullopt;
  // RFC 7641 §4.1: a resource the server does not observe gets a plain answer, and there is no
  // relation on it to end.
  auto resource = observable_(request);
  if (!resource) return std::nullopt;
  if (observe == 0u) return resource;
  observer_gone(observers_.remove(from, request.token, *resource, now));
  return std::nullopt;
}

std::optional<observation_id> endpoint::register_observer(const exchange& ex,
                                                          coap::message representation,
                                                          coap::message& response, time_point now) {
  // RFC 7641 §4.2: a non-2.xx answer is final; the relation it would have refreshed ends.
  if (!response.code.is_success() || draining_) {
    observer_gone(observers_.remove(ex.peer, ex.token, *ex.observe, now));
    return std::nullopt;
  }
  // RFC 7959 §2.6, §2.4: notifications go out in blocks no larger than the client asked for
  // when it registered, nor than our own block size.
  auto szx = coap::szx_for_size(config_.block.block_size).value_or(6);
  if (const auto* asked = ex.forwarded.request.find(coap::opt::block2)) {
    if (auto block = coap::decode_block(asked->value)) szx = std::min(szx, block->szx);
  }
  auto reg = observers_.on_register(ex.peer, ex.token, *ex.observe, std::move(representation), szx,
                                    now, ex.type == coap::type::non);
  if (!reg.observe) return std::nullopt;  // a limit: a plain answer (RFC 7641 §4.1)
  response.set_uint_option(coap::opt::observe, *reg.observe);
  response.set_uint_option(coap::opt::max_age,
                           static_cast<std::uint64_t>(config_.observe.max_age.count()));
  if (reg.first)
    events_.push_back({observe_event::kind::started, *ex.observe, ex.forwarded.request});
  return reg.id;
}

void endpoint::observer_gone(std::optional<resource_key> last_of_resource) {
  if (last_of_resource)
    events_.push_back({observe_event::kind::stopped, std::move(*last_of_resource), {}});
}

void endpoint::notify(const resource_key& resource, coap::message content, time_point now) {
  if (draining_) return;
  observers_.on_change(resource, std::move(content), now);
  note_time(now);  // take_sends fans it out
}

void endpoint::notify_final(const resource_key& resource, coap::message content, time_point now) {
  if (draining_) return;
  auto finals = observers_.on_final(resource, std::move(content), now);
  if (finals.empty()) return;
  for (auto& n : finals) send_notification(n, owner::kind::final_notification, now);
  events_.push_back({observe_event::kind::stopped, resource, {}});
  note_time(now);  // relations of the same clients on other resources
}

void endpoint::encode_unsent(std::size_t max) {
  for (std::size_t sent = 0; sent < max;) {
    auto batch = observers_.take_notifications(max - sent);
    if (batch.empty()) break;
    for (const auto& n : batch) send_notification(n, owner::kind::notification, unsent_at_);
    sent += batch.size();
  }
  if (!observers_.fanning_out()) shapes_.clear();
}

std::vector<send_action> endpoint::take_sends(std::size_t max_notifications) {
  encode_unsent(max_notifications);
  return std::exchange(sends_, {});
}

std::optional<std::pair<mid_key, coap::bytes>> endpoint::encode_notification(
    const observe_registry::notification& n, owner::kind kind, time_point now) {
  // Notifications are CON, as the API document shows, unless the relation was registered with
  // a NON request (observe_options::non_notifications): an observer that never acknowledges is
  // found out and removed (RFC 7641 §4.5).
  // An unverified observer gets a first block no larger than its budget allows (RFC 7959
  // §2.6: the rest comes with GETs, which add to the budget). Overhead: the content's options,
  // the token, Observe and Max-Age (at most 4 + 2 bytes), and room to spare.
  auto szx = n.szx;
  const auto payload = n.content->payload.size();
  if (payload > config_.amplification.floor_payload) {  // within the floor, never cut
    const auto overhead = coap::encoded_size(*n.content) - payload + n.token.size() +
                          (n.observe ? 4 : 0) + (n.max_age ? 2 : 0) + 16;
    if (auto cap = block_size_for(n.peer, payload, overhead, now))
      szx = std::min(szx, coap::szx_for_size(cap).value_or(0));
  }
  auto mid = next_mid(n.peer, now);
  if (!mid) {  // refused (header comment): RFC 7641 §4.5 lets the server drop the observer
    if (kind == owner::kind::notification) observer_gone(observers_.remove(n.id, now));
    return std::nullopt;
  }
  auto datagram = shaped_datagram(n, szx);
  datagram[2] = static_cast<std::uint8_t>(*mid >> 8);  // RFC 7252 §3: the MID is bytes 2-3
  datagram[3] = static_cast<std::uint8_t>(*mid);
  return std::pair{mid_key{n.peer, *mid}, std::move(datagram)};
}

coap::bytes endpoint::shaped_datagram(const observe_registry::notification& n, std::uint8_t szx) {
  const auto same = [&](const notification_shape& s) {
    return s.content == n.content && s.token_size == n.token.size() && s.observe == n.observe &&
           s.max_age == n.max_age && s.szx == szx && s.confirmable == n.confirmable;
  };
  if (auto it = std::find_if(shapes_.begin(), shapes_.end(), same); it != shapes_.end()) {
    auto datagram = it->datagram;
    // RFC 7252 §3: the token follows the 4-byte header, its length in the first byte.
    std::copy(n.token.begin(), n.token.end(), datagram.begin() + 4);
    return datagram;
  }
  auto message = first_block_of_notification(n.message(), szx, config_.max_message_size);
  message.type = n.confirmable ? coap::type::con : coap::type::non;
  message.mid = 0;
  auto datagram = coap::encode(message);
  // A few shapes per change at most; past that (relations ahead of the clock), encode each.
  if (shapes_.size() < 16)
    shapes_.push_back(
        {n.content, n.token.size(), n.observe, n.max_age, szx, n.confirmable, datagram});
  return datagram;
}

void endpoint::send_notification(const observe_registry::notification& n, owner::kind kind,
                                 time_point now) {
  auto encoded = encode_notification(n, kind, now);
  if (!encoded) return;
  auto& [key, bytes] = *encoded;
  if (!n.confirmable) {
    // Sent once; the registry frees the client's slot a round trip later.
    if (send(n.peer, std::move(bytes), now)) ++stats_.non_notifications;
    observers_.sent_non(n.id, key.mid);
    return;
  }
  send(n.peer, bytes, now);  // queued even when held back: a retransmission may fit
  retransmits_.add(key, std::move(bytes), owner{kind, n.id}, now, initial_timeout());
}

}  // namespace gw::core
