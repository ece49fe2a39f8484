#pragma once
// Our own Confirmable messages awaiting an ACK (RFC 7252 §4.2): separate responses now,
// notifications later. Holds the back-off state and nothing else; the owner of a message
// learns of its ACK, RST or give-up through the `owner` value it registered.
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "gateway/coap/message.hpp"
#include "gateway/core/clock.hpp"
#include "gateway/core/deadline_queue.hpp"
#include "gateway/core/dedup_cache.hpp"

namespace gw::core {

struct owner {
  enum class kind : std::uint8_t { separate_response, notification, final_notification } what;
  std::uint64_t id = 0;
};

class retransmit_queue {
 public:
  struct resend {
    mid_key key;
    core::owner owner;
    const coap::bytes* datagram;  // valid until this message is settled or replaced
  };

  explicit retransmit_queue(std::uint32_t max_retransmit) : max_retransmit_(max_retransmit) {}

  // `initial_timeout` is ACK_TIMEOUT scaled by a random factor in [1, ACK_RANDOM_FACTOR].
  void add(const mid_key& key, coap::bytes datagram, core::owner owner, time_point now,
           duration initial_timeout);
  // The message `old_key` becomes `datagram` under `new_key`, keeping its retransmission
  // counter, timeout and next due time (RFC 7641 §4.5.2: a newer notification takes over the
  // transmission of the one in flight). False when `old_key` is not pending.
  bool replace(const mid_key& old_key, const mid_key& new_key, coap::bytes datagram);
  // ACK or RST for one of ours: removes it and says whose it was.
  std::optional<core::owner> settle(const mid_key& key);
  struct settled {
    core::owner owner;
    // From its only transmission to `now`; none once it was sent again, when the answer could
    // be to either (Karn's rule, RFC 6298 §3).
    std::optional<duration> round_trip;
  };
  std::optional<settled> settle(const mid_key& key, time_point now);
  bool contains(const mid_key& key) const { return pending_.contains(key); }

  // Datagrams due again are appended to `resends`, messages that ran out of attempts are
  // dropped and their owners appended to `given_up`.
  void on_timer(time_point now, std::vector<resend>& resends, std::vector<core::owner>& given_up);
  std::optional<time_point> next_deadline() const { return deadlines_.next(); }

  // Forgets every message of this kind (shutdown: observers are sent nothing further).
  void drop(owner::kind what);
  std::size_t size() const { return pending_.size(); }
  std::uint64_t retransmissions() const { return retransmissions_; }
  void set_max_retransmit(std::uint32_t n) { max_retransmit_ = n; }

 private:
  struct pending {
    coap::bytes datagram;
    core::owner owner;
    std::uint32_t retransmits = 0;
    duration timeout;
    time_point due;
    // Its entry in deadlines_, cancelled when it is settled: 10,000 notifications acknowledged
    // within milliseconds would otherwise each leave a dead deadline (and a lookup) behind.
    deadline_queue<mid_key>::handle deadline = 0;
  };

  std::uint32_t max_retransmit_;
  std::uint64_t retransmissions_ = 0;
  std::unordered_map<mid_key, pending, mid_key_hash> pending_;
  deadline_queue<mid_key> deadlines_;
};

}  // namespace gw::core
