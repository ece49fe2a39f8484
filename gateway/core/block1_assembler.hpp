#pragma once
// Reassembly of request bodies sent in Block1 blocks (RFC 7959 §2.3, §2.5), one body per
// client and request key. Blocks must arrive in order: each continues at exactly the byte
// offset received so far, so the client may lower SZX between blocks but never skip ahead.
// A block equal to one already received (same offset, same bytes) is a repeat: a NON client
// or a lost 2.31 makes one, and the message layer cannot always tell (new MID, NON). It is
// acknowledged again with the same 2.31 and changes nothing. A block at an offset already
// received with other bytes means the client went back (a restart whose first blocks happen to
// be equal): the body is cut there and continues with it.
// The assembler holds the partial bodies and nothing else; the block layer decides whether
// another transfer may start and how many bytes are still free (`room`), and turns outcomes
// into responses.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "gateway/coap/block.hpp"
#include "gateway/coap/message.hpp"
#include "gateway/core/block_key.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/transfer_table.hpp"

namespace gw::core {

struct block1_limits {
  std::size_t max_body = 64 * 1024;
  duration lifetime = std::chrono::seconds(247);
  // A transfer that has received only its first block: MAX_TRANSMIT_SPAN (RFC 7252 §4.8.2),
  // the longest a client retransmitting that block keeps trying. A client that goes on sends
  // block 1 well within it; one that never does (a 27-byte datagram from a spoofed source)
  // holds a slot this long, not EXCHANGE_LIFETIME.
  duration first_block_lifetime = std::chrono::seconds(45);
  std::uint8_t server_szx = 6;  // the server's preferred block size, for the 2.31 echo
};

class block1_assembler {
 public:
  // What the rest of the block layer's state leaves for this transfer.
  struct room {
    bool may_start = false;  // a new transfer of this client fits the count limits
    std::size_t bytes_free = 0;
  };

  // A non-final block was taken: answer 2.31 Continue with this Block1 option.
  struct continue_with {
    coap::block_value echo;
  };
  // The final block arrived: the whole body, and the Block1 option for the final response.
  struct complete {
    coap::bytes body;
    coap::block_value echo;
  };
  enum class refusal {
    incomplete,  // 4.08: no transfer, or a block at the wrong offset (§2.9.2)
    too_large,   // 4.13: the body would exceed max_body (§2.9.3)
    bad_size,    // 4.00: a block's payload does not match its SZX
    busy,        // 5.03: a transfer or memory limit
  };
  struct refused {
    refusal why;
    std::string diagnostic;
  };
  using outcome = std::variant<continue_with, complete, refused>;

  explicit block1_assembler(block1_limits limits) : limits_(limits) {}
  void set_limits(block1_limits limits) { limits_ = limits; }

  // `size1` is the request's Size1 option, the client's announcement of the body size (§4).
  // Every refusal drops the transfer: after an error the client starts again at NUM 0.
  outcome on_block(const block_key& key, coap::block_value block, coap::bytes payload,
                   std::optional<std::uint64_t> size1, room room, time_point now);

  std::size_t expire(time_point now) { return transfers_.expire(now); }
  std::optional<time_point> next_expiry() const { return transfers_.next_expiry(); }

  std::size_t count(const peer& p) const { return transfers_.count(p); }
  const source_counts& counts() const { return transfers_.counts(); }
  std::size_t size() const { return transfers_.size(); }
  std::size_t bytes() const { return transfers_.bytes(); }
  std::uint64_t expired() const { return transfers_.expired(); }

 private:
  outcome start(const block_key& key, coap::block_value block, coap::bytes payload,
                std::optional<std::uint64_t> size1, room room, time_point now);
  outcome refuse(const block_key& key, refusal why, std::string diagnostic);

  block1_limits limits_;
  transfer_table<coap::bytes> transfers_;
};

}  // namespace gw::core
