#include "gateway/core/block_layer.hpp"

#include <algorithm>
#include <span>
#include <stdexcept>
#include <string>

#include "base/keyed_hash.hpp"
#include "gateway/coap/codec.hpp"
#include "gateway/core/block_key.hpp"

namespace gw::core {
namespace {

// Keyed (base/keyed_hash.hpp): the body is the client's, and a follow-up whose body hashed
// like another's would be served that other request's representation.
std::uint64_t body_hash(std::span<const std::uint8_t> body) {
  return base::keyed_hasher{}.bytes(body).finish();
}

std::size_t representation_bytes(const coap::message& m) {
  std::size_t n = m.payload.size();
  for (const auto& o : m.options) n += o.value.size() + 4;
  return n;
}

// Block2 (and Size2) on a message whose payload already holds the block's bytes.
void mark_block(coap::message& m, const coap::block2_choice& choice, std::size_t body_size,
                bool with_size2) {
  m.set_option(coap::opt::block2, coap::encode_block(choice.block));
  if (with_size2) m.set_uint_option(coap::opt::size2, body_size);
}

// Cuts the block out of `m` in place: no copy of the representation for the common GET.
void cut_block(coap::message& m, const coap::block2_choice& choice, bool with_size2) {
  const std::size_t body_size = m.payload.size();
  const auto& range = choice.range;
  auto& p = m.payload;
  p.erase(p.begin() + static_cast<std::ptrdiff_t>(range.offset + range.length), p.end());
  p.erase(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(range.offset));
  mark_block(m, choice, body_size, with_size2);
}

coap::message copy_block(const coap::message& representation, const coap::block2_choice& choice,
                         bool with_size2) {
  coap::message m;
  m.code = representation.code;
  m.options = representation.options;
  const auto first =
      representation.payload.begin() + static_cast<std::ptrdiff_t>(choice.range.offset);
  m.payload.assign(first, first + static_cast<std::ptrdiff_t>(choice.range.length));
  mark_block(m, choice, representation.payload.size(), with_size2);
  return m;
}

}  // namespace

coap::bytes derive_etag(const coap::message& representation) {
  base::keyed_hasher hasher;
  hasher.integer(representation.code.value);
  if (const auto* cf = representation.find(coap::opt::content_format)) {
    // A marker byte first, so that Content-Format 0 (an empty value) differs from none.
    hasher.integer(std::uint8_t{1}).field(cf->value);
  } else {
    hasher.integer(std::uint8_t{0});
  }
  return coap::etag_from_hash(hasher.bytes(representation.payload).finish());
}

coap::message first_block_of_notification(coap::message notification, std::uint8_t szx,
                                          std::size_t max_message_size) {
  szx = std::min<std::uint8_t>(szx, 6);
  const std::size_t size = notification.payload.size();
  if (size <= coap::block_value{0, false, szx}.size() &&
      coap::encoded_size(notification) <= max_message_size)
    return notification;
  if (!notification.has(coap::opt::etag))
    notification.add_option(coap::opt::etag, derive_etag(notification));
  for (;; --szx) {
    coap::message block = notification;
    const coap::block_value first{0, false, szx};
    const auto range = coap::block_slice(size, first);
    cut_block(block, {{0, range.more, szx}, range}, true);
    if (szx == 0 || coap::encoded_size(block) <= max_message_size) return block;
  }
}

block_layer::block_layer(block_options options, std::uint32_t busy_max_age_s)
    : block1_(block1_limits{}) {
  set_options(options, busy_max_age_s);
}

void block_layer::set_options(block_options options, std::uint32_t busy_max_age_s) {
  const auto szx = coap::szx_for_size(options.block_size);
  if (!szx) throw std::invalid_argument("block size must be a power of two from 16 to 1024");
  options_ = options;
  busy_max_age_s_ = busy_max_age_s;
  block1_.set_limits({options.max_body, options.lifetime, options.first_block_lifetime, *szx});
}

std::variant<block_layer::forward, block_layer::answer, block_layer::joined>
block_layer::on_request(const peer& from, coap::message request, time_point now,
                        std::size_t block_size) {
  const coap::option* block1_option = request.find(coap::opt::block1);
  const coap::option* block2_option = request.find(coap::opt::block2);
  if (block1_option == nullptr && block2_option == nullptr) {
    // Running a safe method again for a later block changes nothing, so its blocks need no
    // server state (RFC 7959 §2.4 "truly stateless").
    if (coap::is_safe(request.code)) return forward{std::move(request), std::nullopt};
    return forward_held(std::move(request), std::nullopt, now);
  }

  // RFC 7959 §2.2: SZX 7 is reserved (BERT, RFC 8323, is for reliable transports only); a
  // critical option whose value cannot be processed fails the request (RFC 7252 §5.4.1).
  const auto block1 =
      block1_option != nullptr ? coap::decode_block(block1_option->value) : std::nullopt;
  const auto block2 =
      block2_option != nullptr ? coap::decode_block(block2_option->value) : std::nullopt;
  if ((block1_option != nullptr && !block1) || (block2_option != nullptr && !block2)) {
    ++counters_.rejected_bad_block;
    const bool bad1 = block1_option != nullptr && !block1;
    return answer{coap::make_error(request, coap::codes::bad_option,
                                   bad1 ? "unsupported Block1 value" : "unsupported Block2 value")};
  }

  if (block2 && block2->num > 0) {
    // §2.4: a later block. A Block1 option left over from the Block1 phase is ignored (§2.7
    // asks clients to leave it out, not all do).
    if (coap::is_safe(request.code)) return forward{std::move(request), std::nullopt};
    return from_store(from, request, *block2, now, block_size);
  }
  if (block1) return on_block1(from, std::move(request), *block1, now);
  return forward_held(std::move(request), std::nullopt, now);
}

std::variant<block_layer::forward, block_layer::answer, block_layer::joined>
block_layer::forward_held(coap::message request, std::optional<coap::block_value> block1,
                          time_point now) {
  if (coap::is_safe(request.code)) return forward{std::move(request), block1};
  auto held = reserve(now);
  if (!held) return answer{busy(request, "no room to keep the answer; the request was not run")};
  return forward{std::move(request), block1, *held};
}

std::optional<std::size_t> block_layer::reserve(time_point now) {
  const std::size_t want = std::min(options_.reserve_bytes, options_.store_bytes);
  if (!make_room(nullptr, want, now)) return std::nullopt;
  reserved_bytes_ += want;
  return want;
}

std::variant<block_layer::forward, block_layer::answer, block_layer::joined> block_layer::on_block1(
    const peer& from, coap::message request, coap::block_value block, time_point now) {
  const auto key = make_block_key(from, request);
  const auto size1 = request.uint_option(coap::opt::size1);
  std::uint64_t final_hash = 0;
  if (block.num == 0) {
    block1_done_.erase(key);  // a new upload: the last one's answer is no longer asked for
  } else if (!block.more) {
    // A final block NUM > 0 is never the start of anything: equal to the last upload's final
    // block, it is a repeat of it. Running the whole request again would write twice.
    final_hash = body_hash(request.payload);
    if (auto* done = block1_done_.find(key, now); done != nullptr &&
                                                  done->value.final_num == block.num &&
                                                  done->value.final_hash == final_hash) {
      ++counters_.block1_repeats;
      if (!done->value.response) return joined{};
      return answer{*done->value.response};
    }
  }
  // Issue #13: per address as well as per source, so that the ports of one address cannot
  // take every slot.
  const auto tier =
      limits_ != nullptr ? limits_->refuses(limited::block1, block1_.counts(), from) : std::nullopt;
  auto outcome = block1_.on_block(key, block, std::move(request.payload), size1,
                                  {may_start(from) && !tier, bytes_free()}, now);
  if (const auto* no = std::get_if<block1_assembler::refused>(&outcome);
      no != nullptr && tier && no->why == block1_assembler::refusal::busy)
    limits_->note_refusal(limited::block1, *tier);

  if (auto* next = std::get_if<block1_assembler::continue_with>(&outcome)) {
    auto response = coap::make_response(request, coap::codes::continue_);  // §2.9.1
    response.add_option(coap::opt::block1, coap::encode_block(next->echo));
    return answer{std::move(response)};
  }
  if (auto* done = std::get_if<block1_assembler::complete>(&outcome)) {
    request.payload = std::move(done->body);
    request.remove_options(coap::opt::block1);
    request.remove_options(coap::opt::size1);
    // Room for the answer first: refused here, nothing ran and nothing marks it finished.
    auto routed = forward_held(std::move(request), done->echo, now);
    if (!std::holds_alternative<forward>(routed)) return routed;
    ++counters_.block1_bodies;
    if (done->echo.num > 0 && transfer_table<finished_upload>::footprint(key, 0) <= bytes_free()) {
      block1_done_.put(key, finished_upload{done->echo.num, final_hash, std::nullopt}, 0,
                       now + options_.lifetime);
    }
    return routed;
  }

  auto& refused = std::get<block1_assembler::refused>(outcome);
  switch (refused.why) {
    case block1_assembler::refusal::incomplete:
      ++counters_.rejected_incomplete;
      return answer{
          coap::make_error(request, coap::codes::request_entity_incomplete, refused.diagnostic)};
    case block1_assembler::refusal::too_large:
      ++counters_.rejected_too_large;
      return answer{too_large(request, refused.diagnostic)};
    case block1_assembler::refusal::bad_size:
      ++counters_.rejected_bad_block;
      return answer{coap::make_error(request, coap::codes::bad_request, refused.diagnostic)};
    case block1_assembler::refusal::busy:
      break;
  }
  return answer{busy(request, refused.diagnostic)};
}

block_layer::answer block_layer::from_store(const peer& from, const coap::message& request,
                                            coap::block_value requested, time_point now,
                                            std::size_t block_size) {
  // CoAPExample resends the whole POST (same payload) per block; libcoap, and every client
  // after a Block1 phase (§2.7), sends the follow-ups without the body.
  const auto key = make_block_key(from, request);
  auto* stored = block2_.find(key, now);
  if (stored != nullptr && !request.payload.empty() && stored->value.body_hash &&
      body_hash(request.payload) != *stored->value.body_hash)
    stored = nullptr;  // another request to the same resource: not this representation
  if (stored == nullptr) {
    // Never run a non-idempotent request again for a later block: the client must start over.
    ++counters_.rejected_incomplete;
    return answer{coap::make_error(request, coap::codes::request_entity_incomplete,
                                   "no stored response for this request (expired or never "
                                   "made); ask for block 0 again")};
  }
  const auto& representation = stored->value.message;
  const auto negotiated = coap::negotiate_block2(requested, block_size_within(block_size),
                                                 representation.payload.size());
  if (const auto* refused = std::get_if<coap::block2_refusal>(&negotiated)) {
    return answer{refuse_block(request, *refused, representation.payload.size())};
  }
  auto response = copy_block(representation, std::get<coap::block2_choice>(negotiated),
                             request.has(coap::opt::size2));
  response.token = request.token;
  ++counters_.blocks_from_store;
  // Kept after the last block too: a NON client whose last response was lost asks again with
  // a new MID, which the message layer's dedup cannot recognise. From then on it is the first
  // to go when room is short.
  block2_.refresh(*stored, now + options_.lifetime);
  if (!std::get<coap::block2_choice>(negotiated).block.more && !stored->value.served) {
    stored->value.served = true;
    served_.push_back({key, stored->generation});
    if (served_.size() > 2 * block2_.size() + 16) compact_served(now);
  }
  return answer{std::move(response)};
}

coap::message block_layer::on_response(const peer& from, const forward& forwarded,
                                       coap::message response, time_point now,
                                       std::size_t block_size) {
  // The held room is given back first: the answer is stored out of it.
  reserved_bytes_ -= std::min(reserved_bytes_, forwarded.reserved);
  auto out = shape_response(from, forwarded, std::move(response), now, block_size);
  // §2.3: the response to the final block of a Block1 transfer carries that block's option.
  if (forwarded.block1) {
    out.set_option(coap::opt::block1, coap::encode_block(*forwarded.block1));
    remember_final(from, forwarded, out, now);
  }
  return out;
}

void block_layer::remember_final(const peer& from, const forward& forwarded,
                                 const coap::message& response, time_point now) {
  const auto key = make_block_key(from, forwarded.request);
  auto* done = block1_done_.find(key, now);
  if (done == nullptr || done->value.response || done->value.final_num != forwarded.block1->num)
    return;
  const std::size_t value_bytes = representation_bytes(response);
  if (value_bytes > bytes_free()) {
    block1_done_.erase(key);  // no room: a repeat will be refused 4.08 rather than run twice
    return;
  }
  done->value.response = response;
  done->value.response->token.clear();
  block1_done_.set_value_bytes(key, *done, value_bytes);
  block1_done_.refresh(*done, now + options_.lifetime);
}

coap::message block_layer::shape_response(const peer& from, const forward& forwarded,
                                          coap::message response, time_point now,
                                          std::size_t block_size) {
  const std::size_t server_size = block_size_within(block_size);
  // The handler cut its own block (Download Content maps Block2 onto upstream Range windows).
  if (response.has(coap::opt::block2)) return response;
  const auto& request = forwarded.request;
  const coap::option* block2_option = request.find(coap::opt::block2);
  const bool size2_asked = request.has(coap::opt::size2);  // §4: Size2 0 asks for the size
  const std::size_t size = response.payload.size();
  if (block2_option == nullptr && !size2_asked && size <= server_size) return response;

  std::optional<coap::block_value> requested;
  if (block2_option != nullptr) requested = coap::decode_block(block2_option->value);
  const auto negotiated = coap::negotiate_block2(requested, server_size, size);
  const auto* choice = std::get_if<coap::block2_choice>(&negotiated);
  const auto* refused = std::get_if<coap::block2_refusal>(&negotiated);
  const auto block = choice != nullptr ? choice->block : refused->block;
  // An error that fits in one message is not a block of the representation asked for.
  if (!response.code.is_success() && size <= block.size()) return response;
  if (block.num == 0 && size <= block.size()) {
    // One block holds it all: nothing to cut or store. Early negotiation is answered in kind.
    if (requested)
      response.set_option(coap::opt::block2, coap::encode_block({0, false, block.szx}));
    if (size2_asked) response.set_uint_option(coap::opt::size2, size);
    return response;
  }
  if (refused != nullptr) return refuse_block(request, *refused, size);

  // §2.4: all blocks of one representation carry the same ETag, so that a client sees when
  // the representation changed between two of its requests and can start over.
  if (!response.has(coap::opt::etag)) response.add_option(coap::opt::etag, derive_etag(response));
  // §4: Size2 on the first block, and whenever the request asks for it.
  const bool with_size2 = size2_asked || block.num == 0;
  if (!coap::is_safe(request.code)) {
    return store_and_slice(from, forwarded, std::move(response), *choice, with_size2, now);
  }
  cut_block(response, *choice, with_size2);
  return response;
}

coap::message block_layer::store_and_slice(const peer& from, const forward& forwarded,
                                           coap::message representation,
                                           const coap::block2_choice& block, bool with_size2,
                                           time_point now) {
  const auto& request = forwarded.request;
  auto first = copy_block(representation, block, with_size2);
  first.token = request.token;
  if (!block.block.more) return first;

  const auto key = make_block_key(from, request);
  // The client asked again (NUM 0): the request ran again and what was stored is stale.
  block2_.erase(key);
  representation.token.clear();
  const std::size_t value_bytes = representation_bytes(representation);
  if (!make_room(&from, transfer_table<stored_representation>::footprint(key, value_bytes), now)) {
    // The request has run: its outcome is never turned into a failure. The client gets the
    // first block with the real code; a later block gets 4.08 and never runs it again.
    ++counters_.unstored;
    return first;
  }
  // After a Block1 phase the request's body is the reassembled one; follow-ups have none.
  const auto hash = forwarded.block1 ? std::nullopt : std::optional(body_hash(request.payload));
  block2_.put(key, stored_representation{std::move(representation), hash}, value_bytes,
              now + options_.lifetime);
  return first;
}

coap::message block_layer::busy(const coap::message& request, std::string_view why) {
  ++counters_.rejected_busy;
  return coap::make_unavailable(request, busy_max_age_s_, why);
}

coap::message block_layer::refuse_block(const coap::message& request,
                                        const coap::block2_refusal& refusal,
                                        std::size_t body_size) {
  ++counters_.rejected_bad_block;
  return coap::make_error(request, coap::codes::bad_option, coap::describe(refusal, body_size));
}

coap::message block_layer::too_large(const coap::message& request, std::string_view why) const {
  auto response = coap::make_error(request, coap::codes::request_entity_too_large, why);
  // set_options accepts only block sizes that have an SZX.
  const auto szx = coap::szx_for_size(options_.block_size).value_or(6);
  response.add_option(coap::opt::block1, coap::encode_block({0, false, szx}));
  response.add_uint_option(coap::opt::size1, options_.max_body);
  return response;
}

bool block_layer::make_room(const peer* slot_for, std::size_t bytes, time_point now) {
  if (bytes > options_.store_bytes) return false;
  while (bytes > bytes_free() || (slot_for != nullptr && !may_start(*slot_for))) {
    // A client at its own limit gains nothing from another client's eviction.
    const bool own_limit =
        slot_for != nullptr &&
        block1_.count(*slot_for) + block2_.count(*slot_for) >= options_.max_transfers_per_client;
    if (!evict_served(own_limit ? slot_for : nullptr, now)) return false;
  }
  return true;
}

bool block_layer::evict_served(const peer* only, time_point now) {
  for (auto it = served_.begin(); it != served_.end();) {
    const auto* e = block2_.find(it->key, now);
    if (e == nullptr || e->generation != it->generation || !e->value.served) {
      it = served_.erase(it);
      continue;
    }
    if (only != nullptr && it->key.peer != *only) {
      ++it;
      continue;
    }
    block2_.erase(it->key);
    served_.erase(it);
    ++counters_.evicted_served;
    return true;
  }
  return false;
}

void block_layer::compact_served(time_point now) {
  std::erase_if(served_, [&](const served_note& n) {
    const auto* e = block2_.find(n.key, now);
    return e == nullptr || e->generation != n.generation || !e->value.served;
  });
}

bool block_layer::may_start(const peer& from) const {
  return block1_.count(from) + block2_.count(from) < options_.max_transfers_per_client &&
         block1_.size() + block2_.size() < options_.max_transfers;
}

std::size_t block_layer::bytes_free() const {
  const std::size_t used =
      block1_.bytes() + block2_.bytes() + block1_done_.bytes() + reserved_bytes_;
  return used >= options_.store_bytes ? 0 : options_.store_bytes - used;
}

void block_layer::on_timer(time_point now) {
  block1_.expire(now);
  block2_.expire(now);
  block1_done_.expire(now);
  if (served_.size() > 2 * block2_.size() + 16) compact_served(now);
}

std::optional<time_point> block_layer::next_deadline() const {
  std::optional<time_point> next;
  for (auto t : {block1_.next_expiry(), block2_.next_expiry(), block1_done_.next_expiry()}) {
    if (t && (!next || *t < *next)) next = t;
  }
  return next;
}

block_stats block_layer::stats() const {
  block_stats s = counters_;
  s.block1_transfers = block1_.size();
  s.block2_stored = block2_.size();
  s.stored_bytes = block1_.bytes() + block2_.bytes() + block1_done_.bytes();
  s.expired = block1_.expired() + block2_.expired();
  s.reserved_bytes = reserved_bytes_;
  return s;
}

}  // namespace gw::core
