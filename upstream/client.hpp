#pragma once
// The small interface the runner uses to call the One Platform: a request value in, an awaitable
// result out. Knows nothing of CoAP; the Beast implementation lives behind make_http_client().
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include "upstream/error.hpp"
#include "upstream/message.hpp"

namespace gw::upstream {

using result = boost::system::result<response>;

class client {
 public:
  virtual ~client() = default;
  virtual boost::asio::awaitable<result> async_send(request req) = 0;
  // Refuses new requests and ends those in flight with error::shutting_down. Idempotent. A
  // client with nothing to close (a decorator, a fake) may leave it as is.
  virtual void close() {}
};

}  // namespace gw::upstream
