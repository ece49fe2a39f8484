#include "sim/server.hpp"

#include <poll.h>

#include <exception>
#include <iostream>
#include <set>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/system_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "sim/control.hpp"
#include "sim/router.hpp"

namespace gw::sim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using strand_type = asio::strand<asio::io_context::executor_type>;

constexpr auto as_tuple_awaitable = asio::as_tuple(use_awaitable);
constexpr std::uint64_t max_request_body = 16 * 1024 * 1024;
// What the "garbage" fault writes: no status line a parser could accept.
constexpr std::string_view garbage_bytes{"\x00\x17\xfe onep-sim garbage, not HTTP\r\n\r\n", 34};

std::string strip_brackets(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

// Whether the peer has shut down its side: POLLRDHUP tells a FIN apart from a pipelined request.
bool peer_closed(tcp::socket& socket) {
  pollfd fd{socket.native_handle(), POLLIN | POLLRDHUP, 0};
  if (::poll(&fd, 1, 0) < 0) return true;
  return (fd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

request to_request(const bhttp::request<bhttp::string_body>& in) {
  request out;
  out.method = std::string(in.method_string());
  out.target = std::string(in.target());
  for (const auto& field : in) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = in.body();
  return out;
}

bhttp::response<bhttp::string_body> to_beast(response in, unsigned version, bool close) {
  bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(in.status), version};
  for (auto& [name, value] : in.headers) out.insert(name, value);
  // RFC 9110 §8.6 and §15.3.5: no Content-Length, and no body, on 1xx and 204; a 304 has no body
  // either (§15.4.5). Everything else states its length.
  if (in.status / 100 == 1 || in.status == 204 || in.status == 304) {
    out.body().clear();
  } else {
    out.body() = std::move(in.body);
    out.content_length(out.body().size());
  }
  out.keep_alive(!close);
  return out;
}

}  // namespace

struct server::impl {
  impl(asio::io_context& ioc, state st, std::string host, std::uint16_t port,
       std::optional<tls_files> files, server_options options)
      : ioc_(ioc),
        strand_(asio::make_strand(ioc)),
        acceptor_(strand_),
        state_(std::move(st)),
        host_(std::move(host)),
        port_(port),
        files_(std::move(files)),
        options_(options) {}

  // Registers a socket or timer for stop() and wake_all() for as long as it lives.
  template <class T>
  struct registration {
    registration(std::set<T*>& set, T& item) : set_(set), item_(item) { set_.insert(&item_); }
    ~registration() { set_.erase(&item_); }
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;
    std::set<T*>& set_;
    T& item_;
  };

  // Counts a waiting long-poll or RPC wait for /_sim/stats, also when the frame is destroyed.
  struct wait_count {
    wait_count(control& c, endpoint ep, std::string target)
        : c_(c), ep_(ep), target_(std::move(target)) {
      c_.on_wait_started(ep_, target_);
    }
    ~wait_count() { c_.on_wait_ended(ep_, target_); }
    wait_count(const wait_count&) = delete;
    wait_count& operator=(const wait_count&) = delete;
    control& c_;
    endpoint ep_;
    std::string target_;
  };

  void wake_all() {
    for (auto* timer : waiters_) timer->cancel();
  }

  void shutdown() {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto* socket : sockets_) {
      socket->shutdown(tcp::socket::shutdown_both, ignored);
      socket->close(ignored);
    }
    wake_all();
  }

  static void close(tcp::socket& socket) {
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
  }

  // Polls `d` after every state change and at its deadline. nullopt: the client went away or the
  // server is stopping. While `watch` is set, the socket is watched so that a client that
  // disconnects drops its long-poll at once.
  static awaitable<std::optional<response>> await_deferred(std::shared_ptr<impl> self, deferred& d,
                                                           tcp::socket& raw, bool watch) {
    asio::system_timer timer{co_await asio::this_coro::executor};
    registration<asio::system_timer> waiting{self->waiters_, timer};
    bool expired = false;
    for (;;) {
      if (self->stopped_) co_return std::nullopt;
      auto now = clock::now();
      if (expired && now < d.deadline()) now = d.deadline();
      expired = false;
      if (auto answer = d.poll(self->state_, now)) co_return answer;
      timer.expires_at(d.deadline());
      if (!watch) {
        const auto [ec] = co_await timer.async_wait(as_tuple_awaitable);
        expired = !ec;
        continue;
      }
      const auto [order, timer_ec, wait_ec] =
          co_await asio::experimental::make_parallel_group(
              timer.async_wait(asio::deferred),
              raw.async_wait(tcp::socket::wait_read, asio::deferred))
              .async_wait(asio::experimental::wait_for_one(), use_awaitable);
      if (order[0] == 0) {
        expired = !timer_ec;
        continue;
      }
      if (wait_ec || peer_closed(raw)) co_return std::nullopt;
      watch = false;  // a pipelined request: leave it for the next read
    }
  }

  // The answer to one One Platform request, or nullopt when the connection must close without
  // one (a fault, a vanished long-poll client, shutdown).
  template <class Stream>
  static awaitable<std::optional<response>> answer(std::shared_ptr<impl> self, Stream& stream,
                                                   tcp::socket& raw, const request& req,
                                                   bool nothing_buffered) {
    auto& ctl = self->control_;
    const auto ep = classify(req);
    ctl.on_request(ep, req);
    const auto f = ctl.take_fault(req.target);
    if (f && f->delay.count() > 0) {
      asio::system_timer timer{co_await asio::this_coro::executor, f->delay};
      registration<asio::system_timer> waiting{self->waiters_, timer};
      co_await timer.async_wait(as_tuple_awaitable);
      if (self->stopped_) co_return std::nullopt;
    }
    std::optional<response> res;
    if (f && f->act == fault::action::close) co_return std::nullopt;
    if (f && f->act == fault::action::garbage) {
      co_await asio::async_write(stream, asio::buffer(garbage_bytes), as_tuple_awaitable);
      co_return std::nullopt;
    }
    if (f && f->act == fault::action::status) {
      res = response{f->status, f->headers, f->body};
    } else {
      auto out = handle(req, self->state_, clock::now());
      if (auto* r = std::get_if<response>(&out)) {
        res = std::move(*r);
      } else {
        wait_count counted{ctl, ep, std::string(req.target)};
        res = co_await await_deferred(self, *std::get<1>(out), raw, nothing_buffered);
        if (!res) co_return std::nullopt;
      }
    }
    ctl.on_response(ep, res->body.size());
    co_return res;
  }

  template <class Stream>
  static awaitable<void> serve(std::shared_ptr<impl> self, Stream& stream, tcp::socket& raw) {
    beast::flat_buffer buffer;
    std::size_t answered = 0;
    const auto limit = self->options_.max_requests_per_connection;
    while (!self->stopped_) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(max_request_body);
      auto [ec, bytes] =
          co_await bhttp::async_read_header(stream, buffer, parser, as_tuple_awaitable);
      // RFC 9110 §10.1.1: a client that asks for 100-continue may wait for it before the body.
      if (!ec && iequals(parser.get()[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, 11};
        std::tie(ec, bytes) = co_await bhttp::async_write(stream, go_on, as_tuple_awaitable);
      }
      if (!ec)
        std::tie(ec, bytes) =
            co_await bhttp::async_read(stream, buffer, parser, as_tuple_awaitable);
      if (ec) {
        if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
            ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
          const bool too_big = ec == bhttp::error::body_limit || ec == bhttp::error::header_limit;
          auto bad = to_beast(make_response(too_big ? 413 : 400, ec.message()), 11, true);
          co_await bhttp::async_write(stream, bad, as_tuple_awaitable);
        }
        co_return;
      }
      const auto in = parser.release();
      const auto req = to_request(in);
      std::optional<response> res;
      if (control::is_control_path(req)) {
        res = self->control_.handle(req, self->state_);
      } else {
        res = co_await answer(self, stream, raw, req, buffer.size() == 0);
        if (!res) co_return;
      }
      ++answered;
      const bool close = !in.keep_alive() || (limit > 0 && answered >= limit);
      auto out = to_beast(std::move(*res), in.version(), close);
      const auto [write_ec, written] = co_await bhttp::async_write(stream, out, as_tuple_awaitable);
      if (write_ec || close) co_return;
    }
  }

  static awaitable<void> run_plain(std::shared_ptr<impl> self, tcp::socket socket) {
    registration<tcp::socket> open{self->sockets_, socket};
    co_await serve(self, socket, socket);
    close(socket);
  }

  static awaitable<void> run_tls(std::shared_ptr<impl> self, tcp::socket socket) {
    asio::ssl::stream<tcp::socket> stream{std::move(socket), *self->tls_};
    registration<tcp::socket> open{self->sockets_, stream.next_layer()};
    const auto [ec] =
        co_await stream.async_handshake(asio::ssl::stream_base::server, as_tuple_awaitable);
    if (!ec) co_await serve(self, stream, stream.next_layer());
    close(stream.next_layer());
  }

  static awaitable<void> accept_loop(std::shared_ptr<impl> self) {
    while (!self->stopped_) {
      auto [ec, socket] = co_await self->acceptor_.async_accept(as_tuple_awaitable);
      if (self->stopped_ || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        // Out of descriptors, say: pause instead of spinning.
        asio::system_timer pause{self->strand_, std::chrono::milliseconds(50)};
        co_await pause.async_wait(as_tuple_awaitable);
        continue;
      }
      self->control_.on_connection();
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto run = self->tls_ ? run_tls(self, std::move(socket)) : run_plain(self, std::move(socket));
      asio::co_spawn(self->strand_, std::move(run), report);
    }
  }

  static void report(std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      std::cerr << "onep-sim: connection failed: " << x.what() << "\n";
    }
  }

  asio::io_context& ioc_;
  strand_type strand_;
  tcp::acceptor acceptor_;
  state state_;
  control control_;
  std::string host_;
  std::uint16_t port_;
  std::optional<tls_files> files_;
  std::optional<asio::ssl::context> tls_;
  server_options options_;
  std::set<tcp::socket*> sockets_;
  std::set<asio::system_timer*> waiters_;
  bool stopped_ = false;
};

server::server(asio::io_context& ioc, state st, std::string host, std::uint16_t port,
               std::optional<tls_files> tls, server_options options)
    : impl_(std::make_shared<impl>(ioc, std::move(st), std::move(host), port, std::move(tls),
                                   options)) {}

server::~server() {
  if (impl_->ioc_.stopped())
    impl_->shutdown();
  else
    stop();
}

boost::system::result<std::uint16_t> server::start() {
  auto& s = *impl_;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(strip_brackets(s.host_), ec);
  if (ec) return ec;
  if (s.files_) {
    auto& ctx = s.tls_.emplace(asio::ssl::context::tls_server);
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1,
                    ec);
    if (!ec) ctx.use_certificate_chain_file(s.files_->cert, ec);
    if (!ec) ctx.use_private_key_file(s.files_->key, asio::ssl::context::pem, ec);
    if (ec) return ec;
  }
  const tcp::endpoint where{address, s.port_};
  s.acceptor_.open(where.protocol(), ec);
  if (!ec) s.acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s.acceptor_.bind(where, ec);
  if (!ec) s.acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) s.port_ = s.acceptor_.local_endpoint(ec).port();
  if (ec) return ec;
  s.state_.set_on_change([&s] { s.wake_all(); });
  asio::co_spawn(s.strand_, impl::accept_loop(impl_), impl::report);
  return s.port_;
}

void server::stop() {
  asio::dispatch(impl_->strand_, [self = impl_] { self->shutdown(); });
}

std::string server::url() const {
  auto host = impl_->host_;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return (impl_->files_ ? "https://" : "http://") + host + ":" + std::to_string(impl_->port_);
}

}  // namespace gw::sim
