#pragma once
// Block-wise transfers (RFC 7959) on the server side, sans-I/O: between the message layer
// (dedup, ACK/RST, retransmission) and the request handler. The endpoint hands it every
// request and every handler response:
//
//   no Block1/Block2, small response -> passed through untouched, without a copy
//   Block1 blocks    -> 2.31 Continue until the final block; then the whole request is
//                       forwarded and its response carries the final Block1 option (§2.5).
//                       A repeated block gets its 2.31 again; a repeated final block (NUM > 0,
//                       same bytes) gets the stored final answer, or joins the request still
//                       running, and is never forwarded again. A final NUM 0 block is a whole
//                       request on its own, left to the message layer's dedup like any other.
//   large response   -> the first (or requested) block, with Block2, ETag and Size2 (§2.4, §4)
//   later Block2     -> safe method: forwarded again and the block cut from the fresh
//                       representation (nothing stored); unsafe method: served from the stored
//                       representation, never run again (DESIGN.md; CoAPExample re-POSTs)
//
// Stored state (Block1 bodies being reassembled, Block2 representations of unsafe requests)
// expires `lifetime` after its last block and is bounded per client, in total and in bytes; a
// transfer that would exceed a bound is answered 5.03 with Max-Age (the endpoint's
// overload_max_age_s, the one Max-Age of the core's own refusals).
//
// An unsafe request must never run upstream and then be reported as failed, so its answer's
// room is settled before it is forwarded: `reserve_bytes` of the store are held for it while it
// runs (refused with 5.03 before forwarding when even that is not free), and representations
// whose last block has been served are evicted, oldest first, whenever room is short. One still
// being fetched is never evicted. An answer that does not fit after all (larger than its
// reservation, or its client holds max_transfers_per_client transfers) goes out as its first
// block with its own code, unstored; later blocks get 4.08, and the request is not run again.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <variant>

#include "gateway/coap/block.hpp"
#include "gateway/coap/message.hpp"
#include "gateway/core/block1_assembler.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/peer.hpp"
#include "gateway/core/source_limits.hpp"
#include "gateway/core/transfer_table.hpp"

namespace gw::core {

struct block_options {
  std::size_t block_size = 1024;       // the server's preferred block size: 16..1024, power of 2
  std::size_t max_body = 64 * 1024;    // largest reassembled Block1 request body
  std::size_t store_bytes = 32 << 20;  // all stored bodies: Block1 partial + Block2 stored
  std::size_t max_transfers = 10000;   // Block1 in progress + Block2 stored, all clients
  std::size_t max_transfers_per_client = 16;
  // Held in store_bytes for the answer of each unsafe request while it runs upstream: the
  // answer's whole entry (body, options, key, bookkeeping). At most store_bytes is held.
  std::size_t reserve_bytes = 16 * 1024;
  duration lifetime = std::chrono::seconds(247);  // idle expiry; EXCHANGE_LIFETIME
  // A Block1 transfer that has received only block 0: MAX_TRANSMIT_SPAN (block1_assembler.hpp).
  duration first_block_lifetime = std::chrono::seconds(45);
};

struct block_stats {
  std::size_t block1_transfers = 0;  // request bodies being reassembled
  std::size_t block2_stored = 0;     // response representations held for unsafe requests
  std::size_t stored_bytes = 0;      // what both count against store_bytes
  std::uint64_t block1_bodies = 0;   // reassembled requests forwarded
  std::uint64_t block1_repeats = 0;  // repeated final blocks answered without a forward
  std::uint64_t blocks_from_store = 0;
  std::uint64_t expired = 0;
  std::uint64_t rejected_busy = 0;        // 5.03: a transfer or memory limit
  std::uint64_t rejected_incomplete = 0;  // 4.08
  std::uint64_t rejected_too_large = 0;   // 4.13
  std::uint64_t rejected_bad_block = 0;   // 4.00 wrong block size, 4.02 bad option or past end
  std::size_t reserved_bytes = 0;         // held for answers of unsafe requests still running
  std::uint64_t evicted_served = 0;       // fetched to the last block, evicted to make room
  std::uint64_t unstored = 0;             // answers sent as a first block without the rest
};

// A 4-byte ETag for a representation that has none: a hash of code, Content-Format and
// payload. Short because it goes out with every block to devices with 64-byte buffers.
coap::bytes derive_etag(const coap::message& representation);

// RFC 7959 §2.6: a notification whose representation is larger than one block at `szx` (the
// size negotiated with that observer) carries its first block, with Block2 (M set), Size2 and
// the ETag that every block of the representation carries (the ETag the block layer gives the
// client's GETs of the later blocks); a smaller one goes out whole. When the datagram would
// still exceed `max_message_size`, the block shrinks until it fits (down to 16 bytes).
// `notification` is the whole representation with the notification's options (Observe,
// Max-Age, token); type and MID are filled in later and do not change its size.
coap::message first_block_of_notification(coap::message notification, std::uint8_t szx,
                                          std::size_t max_message_size);

class block_layer {
 public:
  struct forward {
    coap::message request;
    // Set when `request` was reassembled from Block1 blocks: the final block's Block1 option,
    // which on_response puts on the response (RFC 7959 §2.3).
    std::optional<coap::block_value> block1;
    // Store bytes held for the answer of an unsafe request; on_response gives them back, so
    // every forward of an unsafe request must come back through on_response.
    std::size_t reserved = 0;
  };
  // Token, type and MID are filled in by the endpoint.
  struct answer {
    coap::message response;
  };
  // A repeat of a request still running upstream: nothing to send now; its answer will follow.
  struct joined {};

  // Precondition (programming error otherwise, std::invalid_argument): block_size is a power of
  // two from 16 to 1024. `busy_max_age_s`: Max-Age of the 5.03 answered when a limit is hit.
  block_layer(block_options options, std::uint32_t busy_max_age_s);

  // By value, so the common case moves the request through without a copy.
  // `block_size`, when not 0, caps the block size of a Block2 answer below the configured one
  // (RFC 7959 §2.4 lets the server choose a smaller size than asked): the endpoint passes what
  // fits the amplification budget of an unverified client (gateway/core/amplification.hpp).
  std::variant<forward, answer, joined> on_request(const peer& from, coap::message request,
                                                   time_point now, std::size_t block_size = 0);
  // The handler's answer to `forwarded` (as returned by on_request); returns what to send.
  // `block_size` as for on_request: a response larger than it goes out as its first block.
  coap::message on_response(const peer& from, const forward& forwarded, coap::message response,
                            time_point now, std::size_t block_size = 0);

  // RFC 7959 §2.9.3: 4.13 with Size1, the largest body taken (max_body), and a Block1 option
  // whose SZX is the preferred block size, for a body too large for one message.
  coap::message too_large(const coap::message& request, std::string_view why) const;

  void on_timer(time_point now);
  std::optional<time_point> next_deadline() const;

  block_stats stats() const;
  const block_options& options() const { return options_; }
  // The two tiers of per-client limits (source_limits.hpp) for Block1 transfers, beside
  // max_transfers_per_client; none when null. Not owned; outlives this layer.
  void set_source_limits(source_limits* limits) { limits_ = limits; }
  // Applies to transfers started from now on; nothing stored is dropped.
  void set_options(block_options options, std::uint32_t busy_max_age_s);

 private:
  std::variant<forward, answer, joined> on_block1(const peer& from, coap::message request,
                                                  coap::block_value block, time_point now);
  // Keeps the answer to a reassembled request for repeats of its final block.
  void remember_final(const peer& from, const forward& forwarded, const coap::message& response,
                      time_point now);
  answer from_store(const peer& from, const coap::message& request, coap::block_value requested,
                    time_point now, std::size_t block_size);
  coap::message shape_response(const peer& from, const forward& forwarded, coap::message response,
                               time_point now, std::size_t block_size);
  // The configured block size, or `cap` when that is smaller and not 0.
  std::size_t block_size_within(std::size_t cap) const {
    return cap == 0 ? options_.block_size : std::min(cap, options_.block_size);
  }
  coap::message store_and_slice(const peer& from, const forward& forwarded,
                                coap::message representation, const coap::block2_choice& block,
                                bool with_size2, time_point now);

  coap::message busy(const coap::message& request, std::string_view why);
  coap::message refuse_block(const coap::message& request, const coap::block2_refusal& refusal,
                             std::size_t body_size);
  bool may_start(const peer& from) const;
  std::size_t bytes_free() const;
  // Holds room for the answer of an unsafe request about to be forwarded: the bytes held (for
  // forward::reserved), or nullopt when there is none even after evicting what was served.
  std::optional<std::size_t> reserve(time_point now);
  // A forward of `request`, with room held for its answer when it is unsafe; a 5.03 answer
  // when there is none (nothing has run).
  std::variant<forward, answer, joined> forward_held(coap::message request,
                                                     std::optional<coap::block_value> block1,
                                                     time_point now);
  // Evicts served representations, oldest first, until `bytes` are free and, with `slot_for`,
  // that client may start a transfer. False when that cannot be reached.
  bool make_room(const peer* slot_for, std::size_t bytes, time_point now);
  // Evicts the oldest served representation (of `only`, when given); false when there is none.
  bool evict_served(const peer* only, time_point now);
  // Drops notes of representations that expired or were replaced.
  void compact_served(time_point now);

  block_options options_;
  std::uint32_t busy_max_age_s_ = 0;
  source_limits* limits_ = nullptr;
  block1_assembler block1_;
  // A response representation kept for the Block2 follow-ups of an unsafe request, keyed
  // without the request's body: libcoap sends follow-ups without it, CoAPExample with it. A
  // follow-up that does carry a body must carry the same one (`body_hash`).
  struct stored_representation {
    coap::message message;
    // Unset after a Block1 phase: a follow-up may repeat the last Block1 block instead.
    std::optional<std::uint64_t> body_hash;
    // Its last block has gone out: evictable when room is short.
    bool served = false;
  };
  transfer_table<stored_representation> block2_;
  // Served representations in the order their last block went out. Entries go stale when the
  // representation expires or is replaced (the generation tells); compacted as it grows.
  struct served_note {
    block_key key;
    std::uint64_t generation = 0;
  };
  std::deque<served_note> served_;
  std::size_t reserved_bytes_ = 0;
  // The last finished Block1 upload per key: its final block and, once the handler answered,
  // that answer. Dropped when the client starts the key again at NUM 0.
  struct finished_upload {
    std::uint32_t final_num = 0;
    std::uint64_t final_hash = 0;  // of the final block's payload
    std::optional<coap::message> response;
  };
  transfer_table<finished_upload> block1_done_;
  block_stats counters_;  // the cumulative fields; the gauges come from the tables
};

}  // namespace gw::core
