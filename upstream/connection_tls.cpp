#include "upstream/connection_impl.hpp"

namespace gw::upstream {

boost::asio::awaitable<result> connection::impl::exchange_tls(wire_request msg,
                                                              clock::time_point deadline) {
  return exchange(*secure, std::move(msg), deadline);
}

}  // namespace gw::upstream
