#include "upstream/pool.hpp"

#include <algorithm>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "upstream/error.hpp"

namespace gw::upstream {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// RFC 9110 §9.2.2.
bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS" || method == "TRACE";
}

}  // namespace

// A request's hold on the pool: its place in a wait list, its slot, its connection. It lives in
// async_send's frame and gives everything back in its destructor, however the frame ends.
struct pool::lease {
  lease(pool& p, clock::time_point d) : owner(p), deadline(d), wake(p.executor_) {
    active_pos = owner.active_.insert(owner.active_.end(), this);
  }
  ~lease() {
    owner.active_.erase(active_pos);
    if (queue_pos) owner.queue_.erase(*queue_pos);
    if (resolve_pos) owner.resolve_waiters_.erase(*resolve_pos);
    if (holds_slot) owner.release(*this, false);
  }
  lease(const lease&) = delete;
  lease& operator=(const lease&) = delete;

  // Suspends until the pool cancels `wake` (slot handed over, resolution done, close()) or until
  // `until`. Callers loop on the state they wait for, so a wake-up is only ever a hint.
  asio::awaitable<void> async_wait(clock::time_point until) {
    wake.expires_at(until);
    co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  pool& owner;
  const clock::time_point deadline;
  asio::steady_timer wake;
  std::unique_ptr<connection> conn;
  bool holds_slot = false;
  bool resolved = false;  // a resolution this lease waited for has finished
  lease_list::iterator active_pos;
  std::optional<lease_list::iterator> queue_pos;
  std::optional<lease_list::iterator> resolve_pos;
};

pool::pool(asio::any_io_executor executor, client_options options, base_url origin,
           std::shared_ptr<asio::ssl::context> tls)
    : executor_(executor),
      options_(std::move(options)),
      origin_(std::move(origin)),
      tls_(std::move(tls)),
      resolver_(executor),
      sweep_(executor) {
  error_code ec;
  const auto address = asio::ip::make_address(origin_.host, ec);
  if (!ec) literal_.emplace(address, origin_.port);
}

asio::awaitable<result> pool::async_send(std::shared_ptr<pool> self, request req) {
  pool& p = *self;
  if (p.closed_) co_return error::shutting_down;
  if (auto ec = check_request(req)) co_return ec;
  lease l(p, clock::now() + req.timeout.value_or(p.options_.timeout));
  const bool idempotent = req.idempotent.value_or(is_idempotent(req.method));
  if (auto ec = co_await p.async_acquire(l, idempotent)) co_return ec;
  for (;;) {
    const bool reused = l.conn != nullptr;
    if (!reused) {
      if (auto ec = co_await p.async_open(l)) co_return ec;
    }
    auto answer = co_await l.conn->async_exchange(req, p.options_.user_agent, l.deadline);
    // RFC 9110 §15.5.9: some servers send a 408 on an idle connection before closing it; read
    // after our request, it answers nothing we sent, and the client may repeat the request (on
    // a fresh connection: this one may be out of step).
    const bool expired = answer && answer->status == 408;
    if (answer && !(expired && reused && idempotent)) {
      p.release(l, true);
      co_return answer;
    }
    if (p.closed_) co_return error::shutting_down;
    // RFC 9112 §9.3.1: a server may close an idle keep-alive connection just as a request
    // arrives. If no byte of an answer came back, an idempotent request is sent again, once, on
    // a fresh connection; any other may have been acted on and is never repeated.
    const bool retry =
        reused && idempotent &&
        (expired || (!l.conn->answer_started() && answer.error() == error::connection_closed));
    p.discard(l.conn);
    if (!retry) co_return answer.error();
  }
}

// A connection the server closed since it was last used fails the next request on it before any
// byte of an answer, which async_send sends again on a fresh connection if it is idempotent. So
// only a request that could not be sent again pays a system call to look first
// (connection::peer_closed); every Read is idempotent, and most are served by reused
// connections.
asio::awaitable<error_code> pool::async_acquire(lease& l, bool idempotent) {
  // While anyone waits there is neither a free slot nor an idle connection (release() hands them
  // to the queue first), so newcomers simply queue behind: FIFO.
  if (queue_.empty()) {
    l.conn = take_idle(!idempotent);
    if (l.conn || busy_ + idle_.size() < options_.max_connections) {
      ++busy_;
      l.holds_slot = true;
      co_return error_code{};
    }
  }
  if (queue_.size() >= options_.max_queue) co_return error::queue_full;
  l.queue_pos = queue_.insert(queue_.end(), &l);
  ++queue_waits_total_;
  while (!l.holds_slot && !closed_ && clock::now() < l.deadline) co_await l.async_wait(l.deadline);
  if (l.queue_pos) {
    queue_.erase(*l.queue_pos);
    l.queue_pos.reset();
  }
  if (closed_) co_return error::shutting_down;
  if (!l.holds_slot) co_return error::timed_out;
  if (clock::now() >= l.deadline) {
    release(l, true);
    co_return error::timed_out;
  }
  // The connection comes straight from the previous request; the server may have closed it
  // since, as it does after its per-connection request limit.
  if (l.conn && !idempotent && l.conn->peer_closed()) discard(l.conn);
  co_return error_code{};
}

asio::awaitable<error_code> pool::async_open(lease& l) {
  const auto deadline = std::min(l.deadline, clock::now() + options_.connect_timeout);
  for (int attempt = 0;; ++attempt) {
    const bool cached = !endpoints_.empty() && !literal_;
    if (auto ec = co_await async_resolve(l, deadline)) co_return ec;
    l.conn = std::make_unique<connection>(executor_, origin_, tls_.get(), options_.verify_peer);
    const auto ec = co_await l.conn->async_connect(endpoints_, deadline);
    if (!ec) {
      ++open_;
      ++opened_total_;
      co_return ec;
    }
    l.conn.reset();
    if (closed_) co_return error::shutting_down;
    if (ec != error::connect_failed) co_return ec;
    // The addresses may be out of date: resolve again, at once when they came from the cache.
    endpoints_.clear();
    if (!cached || attempt > 0) co_return ec;
  }
}

asio::awaitable<error_code> pool::async_resolve(lease& l, clock::time_point deadline) {
  if (literal_) endpoints_.assign(1, *literal_);
  if (!endpoints_.empty()) co_return error_code{};
  if (!resolving_) start_resolve();
  l.resolved = false;
  l.resolve_pos = resolve_waiters_.insert(resolve_waiters_.end(), &l);
  while (!l.resolved && !closed_ && clock::now() < deadline) co_await l.async_wait(deadline);
  if (l.resolve_pos) {
    resolve_waiters_.erase(*l.resolve_pos);
    l.resolve_pos.reset();
  }
  if (closed_) co_return error::shutting_down;
  if (!endpoints_.empty()) co_return error_code{};
  co_return l.resolved ? error::connect_failed : error::timed_out;
}

// One resolution at a time, shared by every request that needs it. Its handler does not keep
// the pool alive: a getaddrinfo() stuck in the resolver thread cannot be interrupted, so a
// waiting request gives up at its deadline and the late answer only fills the cache.
void pool::start_resolve() {
  resolving_ = true;
  resolver_.async_resolve(
      origin_.host, std::to_string(origin_.port), tcp::resolver::numeric_service,
      [weak = weak_from_this()](error_code ec, const tcp::resolver::results_type& results) {
        if (auto self = weak.lock()) self->on_resolved(ec, results);
      });
}

void pool::on_resolved(error_code ec, const tcp::resolver::results_type& results) {
  resolving_ = false;
  if (!ec && !closed_) {
    endpoints_.clear();
    for (const auto& entry : results) endpoints_.push_back(entry.endpoint());
  }
  for (lease* l : resolve_waiters_) {
    l->resolved = true;
    l->resolve_pos.reset();
    l->wake.cancel();
  }
  resolve_waiters_.clear();
}

void pool::release(lease& l, bool keep) {
  l.holds_slot = false;
  auto conn = std::move(l.conn);
  if (conn && !(keep && !closed_ && conn->reusable())) discard(conn);
  if (!closed_ && !queue_.empty()) {
    lease* next = queue_.front();
    queue_.pop_front();
    next->queue_pos.reset();
    next->holds_slot = true;
    next->conn = std::move(conn);
    next->wake.cancel();
    return;
  }
  --busy_;
  if (conn) {
    idle_.push_back({std::move(conn), clock::now()});
    arm_sweep();
  }
}

// Most recently used first: the oldest connections then stay idle and expire, so the pool
// shrinks back after a burst.
std::unique_ptr<connection> pool::take_idle(bool check) {
  const auto now = clock::now();
  while (!idle_.empty()) {
    auto entry = std::move(idle_.back());
    idle_.pop_back();
    if (now - entry.since < options_.idle_timeout && !(check && entry.conn->peer_closed())) {
      return std::move(entry.conn);
    }
    discard(entry.conn);
  }
  return nullptr;
}

void pool::discard(std::unique_ptr<connection>& conn) {
  if (!conn) return;
  if (conn->connected()) --open_;
  conn->close();
  conn.reset();
}

void pool::arm_sweep() {
  if (sweep_armed_ || idle_.empty() || closed_) return;
  sweep_armed_ = true;
  sweep_.expires_at(idle_.front().since + options_.idle_timeout);
  sweep_.async_wait([weak = weak_from_this()](error_code ec) {
    if (auto self = weak.lock()) self->on_sweep(ec);
  });
}

void pool::on_sweep(error_code ec) {
  sweep_armed_ = false;
  if (ec || closed_) return;
  const auto now = clock::now();
  while (!idle_.empty() && now - idle_.front().since >= options_.idle_timeout) {
    discard(idle_.front().conn);
    idle_.pop_front();
  }
  arm_sweep();
}

void pool::close() {
  if (closed_) return;
  closed_ = true;
  // Waiting requests wake and see closed_; in-flight I/O is aborted and ends the same way.
  for (lease* l : active_) {
    l->wake.cancel();
    if (l->conn) l->conn->close();
  }
  while (!idle_.empty()) {
    discard(idle_.back().conn);
    idle_.pop_back();
  }
  resolver_.cancel();
  sweep_.cancel();
}

client_stats pool::stats() const {
  return {open_, idle_.size(), opened_total_, queue_.size(), queue_waits_total_, active_.size()};
}

}  // namespace gw::upstream
