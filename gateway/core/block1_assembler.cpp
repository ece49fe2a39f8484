#include "gateway/core/block1_assembler.hpp"

#include <algorithm>

namespace gw::core {
namespace {

std::string too_large_text(std::uint64_t size, std::size_t max_body) {
  return "request body of " + std::to_string(size) + " bytes exceeds " + std::to_string(max_body);
}

std::string size_text(coap::block_value block, std::size_t payload) {
  return "Block1 NUM " + std::to_string(block.num) + " of " + std::to_string(block.size()) +
         "-byte blocks carries " + std::to_string(payload) + " bytes";
}

// A non-final block wholly within the bytes received, equal to them: received before.
bool is_repeat(const coap::bytes& body, coap::block_value block, const coap::bytes& payload) {
  const std::size_t offset = block.offset();
  return block.more && payload.size() == block.size() && offset + payload.size() <= body.size() &&
         std::equal(payload.begin(), payload.end(),
                    body.begin() + static_cast<std::ptrdiff_t>(offset));
}

}  // namespace

block1_assembler::outcome block1_assembler::on_block(const block_key& key, coap::block_value block,
                                                     coap::bytes payload,
                                                     std::optional<std::uint64_t> size1, room room,
                                                     time_point now) {
  // §4: Size1 announces the whole body; refuse it before taking any bytes.
  if (size1 && *size1 > limits_.max_body) {
    return refuse(key, refusal::too_large, too_large_text(*size1, limits_.max_body));
  }
  if (block.num == 0) return start(key, block, std::move(payload), size1, room, now);

  auto* transfer = transfers_.find(key, now);
  if (transfer == nullptr) {
    return refuse(key, refusal::incomplete,
                  "no Block1 transfer in progress for this request; start again at NUM 0");
  }
  auto& body = transfer->value;
  if (is_repeat(body, block, payload))
    return continue_with{coap::block_value{block.num, true, block.szx}};
  // The client went back to a block it had sent (with other bytes): drop what followed it.
  if (block.offset() < body.size()) body.resize(block.offset());
  // §2.5: blocks in order. The offset, not the NUM, is compared, so a client that lowered SZX
  // (e.g. after a smaller size in our 2.31) continues at the NUM matching the bytes we have.
  if (block.offset() != body.size()) {
    return refuse(key, refusal::incomplete,
                  "Block1 NUM " + std::to_string(block.num) + " starts at byte " +
                      std::to_string(block.offset()) + ", expected byte " +
                      std::to_string(body.size()));
  }
  // §2.2: every block but the last is exactly the block size; the last one at most that.
  if (block.more ? payload.size() != block.size() : payload.size() > block.size()) {
    return refuse(key, refusal::bad_size, size_text(block, payload.size()));
  }
  const std::size_t total = body.size() + payload.size();
  if (total > limits_.max_body) {
    return refuse(key, refusal::too_large, too_large_text(total, limits_.max_body));
  }
  if (payload.size() > room.bytes_free) {
    return refuse(key, refusal::busy, "no memory left for block-wise transfers");
  }

  body.insert(body.end(), payload.begin(), payload.end());
  if (!block.more) {
    complete done{std::move(body), coap::block_value{block.num, false, block.szx}};
    transfers_.erase(key);
    return done;
  }
  transfers_.set_value_bytes(key, *transfer, body.size());
  transfers_.refresh(*transfer, now + limits_.lifetime);
  return continue_with{coap::block_value{block.num, true, block.szx}};
}

block1_assembler::outcome block1_assembler::start(const block_key& key, coap::block_value block,
                                                  coap::bytes payload,
                                                  std::optional<std::uint64_t> size1, room room,
                                                  time_point now) {
  if (auto* transfer = transfers_.find(key, now);
      transfer != nullptr && is_repeat(transfer->value, block, payload)) {
    return continue_with{coap::block_value{0, true, std::min(block.szx, limits_.server_szx)}};
  }
  // §2.5: NUM 0 starts the body (again); whatever was received before is discarded.
  const auto freed = transfers_.erase(key);
  if (block.more ? payload.size() != block.size() : payload.size() > block.size()) {
    return refuse(key, refusal::bad_size, size_text(block, payload.size()));
  }
  if (payload.size() > limits_.max_body) {
    return refuse(key, refusal::too_large, too_large_text(payload.size(), limits_.max_body));
  }
  if (!block.more) {
    // The whole body in one block: nothing to keep.
    return complete{std::move(payload), coap::block_value{0, false, block.szx}};
  }
  // A restart replaces its own transfer, so only a new one is held to the count limits.
  if (!freed && !room.may_start) {
    return refuse(key, refusal::busy, "too many block-wise transfers in progress");
  }
  const std::size_t announced = std::max<std::size_t>(payload.size(), size1.value_or(0));
  if (transfer_table<coap::bytes>::footprint(key, announced) >
      room.bytes_free + freed.value_or(0)) {
    return refuse(key, refusal::busy, "no memory left for block-wise transfers");
  }
  const std::size_t size = payload.size();
  transfers_.put(key, std::move(payload), size,
                 now + std::min(limits_.first_block_lifetime, limits_.lifetime));
  // §2.5: the block size in our echo is the server's preference; a client that heeds a
  // smaller one continues at NUM = bytes received / smaller size (the example in §3.2).
  return continue_with{coap::block_value{0, true, std::min(block.szx, limits_.server_szx)}};
}

block1_assembler::outcome block1_assembler::refuse(const block_key& key, refusal why,
                                                   std::string diagnostic) {
  transfers_.erase(key);
  return refused{why, std::move(diagnostic)};
}

}  // namespace gw::core
