#include "upstream/http_client.hpp"

#include <algorithm>

#include "upstream/error.hpp"
#include "upstream/pool.hpp"
#include "upstream/tls_context.hpp"

namespace gw::upstream {

namespace {

// The handle the gateway owns. Requests run on the shared pool, so destroying the handle while
// some are in flight only closes the pool; the requests finish with shutting_down.
class pooled_client final : public http_client {
 public:
  explicit pooled_client(std::shared_ptr<pool> p) : pool_(std::move(p)) {}
  ~pooled_client() override { pool_->close(); }

  boost::asio::awaitable<result> async_send(request req) override {
    return pool::async_send(pool_, std::move(req));
  }
  void close() override { pool_->close(); }
  client_stats stats() const override { return pool_->stats(); }

 private:
  std::shared_ptr<pool> pool_;
};

}  // namespace

boost::system::result<std::unique_ptr<http_client>> make_http_client(
    boost::asio::any_io_executor executor, client_options options) {
  auto url = parse_base_url(options.base_url);
  if (!url) return url.error();
  std::shared_ptr<boost::asio::ssl::context> tls;
  if (url->tls) {
    auto context = make_tls_context(options);
    if (!context) return context.error();
    tls = std::move(*context);
  }
  options.max_connections = std::max<std::size_t>(options.max_connections, 1);
  auto p = std::make_shared<pool>(std::move(executor), std::move(options), std::move(*url),
                                  std::move(tls));
  return std::unique_ptr<http_client>(std::make_unique<pooled_client>(std::move(p)));
}

}  // namespace gw::upstream
