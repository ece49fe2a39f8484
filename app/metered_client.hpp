#pragma once
// An upstream::client that counts and times every call into a worker's metrics shard, so the
// upstream metrics live in one place instead of in every procedure.
#include "metrics/shard.hpp"
#include "upstream/client.hpp"

namespace gw::app {

class metered_client final : public upstream::client {
 public:
  metered_client(upstream::client& inner, metrics::shard& shard) : inner_(&inner), shard_(shard) {}
  boost::asio::awaitable<upstream::result> async_send(upstream::request req) override;
  // A reload with new pool settings: calls from now on go to `inner`; calls in flight finish on
  // the client they started on.
  void set_inner(upstream::client& inner) { inner_ = &inner; }

 private:
  upstream::client* inner_;
  metrics::shard& shard_;
};

}  // namespace gw::app
