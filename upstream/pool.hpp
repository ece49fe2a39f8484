#pragma once
// The keep-alive connection pool behind http_client, for one origin: at most max_connections
// connections, a bounded FIFO of requests waiting for one, idle expiry, one shared resolution.
#include <cstddef>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include "upstream/base_url.hpp"
#include "upstream/connection.hpp"
#include "upstream/http_client.hpp"

namespace gw::upstream {

class pool : public std::enable_shared_from_this<pool> {
 public:
  // tls is null for http. options.max_connections must be at least 1.
  pool(boost::asio::any_io_executor executor, client_options options, base_url origin,
       std::shared_ptr<boost::asio::ssl::context> tls);
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  // The frame holds self: the pool outlives every request still running, whoever owned it.
  static boost::asio::awaitable<result> async_send(std::shared_ptr<pool> self, request req);

  void close();
  client_stats stats() const;

 private:
  struct lease;
  using lease_list = std::list<lease*>;
  struct idle_entry {
    std::unique_ptr<connection> conn;
    clock::time_point since;
  };

  // `idempotent`: the request may be sent again if the connection it gets turns out closed.
  boost::asio::awaitable<boost::system::error_code> async_acquire(lease& l, bool idempotent);
  boost::asio::awaitable<boost::system::error_code> async_open(lease& l);
  boost::asio::awaitable<boost::system::error_code> async_resolve(lease& l,
                                                                  clock::time_point deadline);
  // Gives the lease's slot (and, when keep and reusable, its connection) to the first waiting
  // request, or back to the pool.
  void release(lease& l, bool keep);
  // The most recently used idle connection still within idle_timeout; `check`: one the server
  // has not closed (connection::peer_closed).
  std::unique_ptr<connection> take_idle(bool check);
  void discard(std::unique_ptr<connection>& conn);
  void start_resolve();
  void on_resolved(boost::system::error_code ec,
                   const boost::asio::ip::tcp::resolver::results_type& results);
  void arm_sweep();
  void on_sweep(boost::system::error_code ec);

  boost::asio::any_io_executor executor_;
  client_options options_;
  base_url origin_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::optional<boost::asio::ip::tcp::endpoint> literal_;  // the host is an IP address
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer sweep_;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints_;  // empty: resolve before connecting
  std::deque<idle_entry> idle_;                            // most recently used at the back
  lease_list active_;                                      // every request in async_send
  lease_list queue_;                                       // waiting for a slot, oldest first
  lease_list resolve_waiters_;
  std::size_t busy_ = 0;  // slots held by requests: connections in use or being opened
  std::size_t open_ = 0;
  std::size_t opened_total_ = 0;
  std::size_t queue_waits_total_ = 0;
  bool resolving_ = false;
  bool sweep_armed_ = false;
  bool closed_ = false;
};

}  // namespace gw::upstream
