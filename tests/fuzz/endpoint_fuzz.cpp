// libFuzzer target: the message layer (gateway/core/endpoint.hpp) driven by a script of
// datagrams from three peers, handler answers, notifications and time, all in virtual time.
//
// The input is a sequence of operations, each an op byte followed by its arguments:
//   0 datagram   peer:u8 len:u16be bytes[len]   a datagram from peer (peer % 3)
//   1 copy       peer:u8 back:u8                the back-th latest datagram again, from peer
//   2 advance    ms:u16be                       the clock moves; due timers fire in order
//   3 answer     which:u8 code:u8 len:u16be     the handler answers a forwarded request
//   4 notify     which:u8 len:u16be             a new value of an observed resource (len
//                                               bit 14: final; bit 13: only its first
//                                               notification is taken before the next step)
// (op % 5; a truncated argument ends the script). Payloads are generated, not read.
//
// Invariants checked after every step, each a property the gateway's users rely on:
// - every datagram sent decodes and fits max_message_size, and goes to a peer that spoke;
// - a byte-identical copy of an unsafe request (POST, PUT, DELETE...) from the same peer within
//   a second of its first arrival is never forwarded again (RFC 7252 §4.5: exactly once; the
//   dedup window is far longer), so there are never more forwards than distinct requests;
// - forwarded requests have distinct ids and decode-able, re-encodable content;
// - after on_timer(t), the next deadline lies after t (the server's one timer never spins);
// - nothing throws on any input.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <tuple>
#include <vector>

#include "gateway/coap/codec.hpp"
#include "gateway/core/endpoint.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "translate/observable.hpp"
#include "translate/route_table.hpp"

namespace {

using namespace gw;
using namespace std::chrono_literals;

class reader {
 public:
  explicit reader(std::span<const std::uint8_t> in) : in_(in) {}
  std::optional<std::uint8_t> u8() {
    if (pos_ >= in_.size()) return std::nullopt;
    return in_[pos_++];
  }
  std::optional<std::uint16_t> u16() {
    auto hi = u8();
    auto lo = u8();
    if (!hi || !lo) return std::nullopt;
    return static_cast<std::uint16_t>(*hi << 8 | *lo);
  }
  std::optional<std::span<const std::uint8_t>> take(std::size_t n) {
    if (in_.size() - pos_ < n) return std::nullopt;
    auto out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

core::peer make_peer(std::uint8_t k) {
  core::peer p;
  p.address = {127, 0, 0, static_cast<std::uint8_t>(1 + k % 3)};
  p.port = 40000;
  return p;
}

bool unsafe(coap::code c) {
  // RFC 7252 §5.1: GET (and RFC 8132's FETCH) are safe; every other method may change state.
  return c.is_request() && c != coap::codes::get && c != coap::codes::fetch;
}

const coap::code answer_codes[] = {coap::codes::content,     coap::codes::changed,
                                   coap::codes::created,     coap::codes::valid,
                                   coap::codes::bad_request, coap::codes::not_found,
                                   coap::codes::forbidden,   coap::codes::service_unavailable,
                                   coap::codes::bad_gateway, coap::codes::gateway_timeout};

std::string payload_of(std::size_t n, std::uint8_t seed) {
  std::string s(n, 'a');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i + seed) % 26);
  return s;
}

struct harness {
  core::endpoint_config config = [] {
    core::endpoint_config c;
    c.max_message_size = 1152;
    return c;
  }();
  core::endpoint ep{config, 7, gw::translate::observable_resource, gw::translate::answered_locally};
  core::time_point now{std::chrono::hours(1)};

  std::set<std::tuple<std::uint8_t, std::uint8_t, std::uint8_t, std::uint8_t>> peers_heard;
  std::vector<core::forward_action> pending;  // forwarded, not yet answered
  std::set<core::request_id> forwarded_ids;
  std::vector<core::resource_key> observed;
  std::vector<std::vector<std::uint8_t>> history;
  // The latest request per (peer address, MID): its bytes and when they first arrived.
  struct latest {
    std::vector<std::uint8_t> bytes;
    core::time_point first_seen;
  };
  std::map<std::pair<std::uint8_t, std::uint16_t>, latest> latest_request;

  void check(const std::vector<core::send_action>& sends) {
    for (const auto& s : sends) {
      GW_FUZZ_CHECK(s.datagram.size() <= config.max_message_size);
      GW_FUZZ_CHECK(coap::decode(s.datagram).has_value());
      const auto& a = s.peer.address;
      GW_FUZZ_CHECK(peers_heard.count({a[0], a[1], a[2], a[3]}) == 1);
    }
  }

  void drain() {
    check(ep.take_sends());
    for (auto& f : ep.take_forwards()) {
      GW_FUZZ_CHECK(forwarded_ids.insert(f.id).second);
      GW_FUZZ_CHECK(coap::decode(coap::encode(f.request)).has_value());
      pending.push_back(std::move(f));
    }
    for (auto& e : ep.take_observe_events()) {
      if (e.what == core::observe_event::kind::started) observed.push_back(e.resource);
    }
  }

  void datagram(std::uint8_t k, std::span<const std::uint8_t> bytes) {
    const core::peer from = make_peer(k);
    const auto& a = from.address;
    peers_heard.insert({a[0], a[1], a[2], a[3]});
    history.emplace_back(bytes.begin(), bytes.end());

    // Whether this is a copy that must not run again.
    bool must_not_forward = false;
    if (auto msg = coap::decode(bytes);
        msg && msg->code.is_request() &&
        (msg->type == coap::type::con || msg->type == coap::type::non)) {
      auto key = std::make_pair(a[3], msg->mid);
      auto it = latest_request.find(key);
      std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
      if (it != latest_request.end() && it->second.bytes == copy) {
        must_not_forward = unsafe(msg->code) && now - it->second.first_seen < 1s;
      } else {
        latest_request[key] = {std::move(copy), now};
      }
    }
    const std::size_t before = pending.size();
    ep.on_datagram(from, bytes, now);
    drain();
    if (must_not_forward) GW_FUZZ_CHECK(pending.size() == before);
  }

  void advance(std::uint16_t ms) {
    const auto until = now + std::chrono::milliseconds(ms);
    for (int i = 0; i < 100000; ++i) {
      auto next = ep.next_deadline();
      if (!next || *next > until) break;
      const auto at = std::max(*next, now);
      now = at;
      ep.on_timer(at);
      drain();
      auto after = ep.next_deadline();
      GW_FUZZ_CHECK(!after || *after > at);
    }
    now = until;
  }

  void answer(std::uint8_t which, std::uint8_t code, std::uint16_t len) {
    if (pending.empty()) return;
    const std::size_t i = which % pending.size();
    auto fw = std::move(pending[i]);
    pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
    auto response = coap::make_response(
        fw.request, answer_codes[code % (sizeof answer_codes / sizeof answer_codes[0])]);
    response.set_payload(payload_of(len % 3000, code));
    if (code & 0x80) response.add_uint_option(coap::opt::content_format, 0);
    ep.on_response(fw.id, std::move(response), now);
    drain();
  }

  void notify(std::uint8_t which, std::uint16_t len) {
    if (observed.empty()) return;
    coap::message content;
    content.code = (len & 0x8000) ? coap::codes::not_found : coap::codes::content;
    // Up to about three blocks: a value longer than one block goes out as its first block
    // with Block2 (RFC 7959 §2.6), which the size bound checks.
    content.set_payload(payload_of(len % 3000, which));
    const auto& resource = observed[which % observed.size()];
    if (len & 0x4000)
      ep.notify_final(resource, std::move(content), now);
    else
      ep.notify(resource, std::move(content), now);
    if (len & 0x2000) {
      // The fan-out left half done: one notification now, the rest once the next step (a
      // datagram, an answer, the clock) has run, as a worker's batches let input in between.
      check(ep.take_sends(1));
      return;
    }
    drain();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  harness h;
  reader in({data, size});
  while (auto op = in.u8()) {
    switch (*op % 5) {
      case 0: {
        auto k = in.u8();
        auto len = in.u16();
        if (!k || !len) return 0;
        auto bytes = in.take(*len);
        if (!bytes) return 0;
        h.datagram(*k, *bytes);
        break;
      }
      case 1: {
        auto k = in.u8();
        auto back = in.u8();
        if (!k || !back) return 0;
        if (h.history.empty()) break;
        const auto copy = h.history[h.history.size() - 1 - *back % h.history.size()];
        h.datagram(*k, copy);
        break;
      }
      case 2: {
        auto ms = in.u16();
        if (!ms) return 0;
        h.advance(*ms);
        break;
      }
      case 3: {
        auto which = in.u8();
        auto code = in.u8();
        auto len = in.u16();
        if (!which || !code || !len) return 0;
        h.answer(*which, *code, *len);
        break;
      }
      case 4: {
        auto which = in.u8();
        auto len = in.u16();
        if (!which || !len) return 0;
        h.notify(*which, *len);
        break;
      }
    }
  }
  return 0;
}
