#include "metrics/http_endpoint.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <exception>
#include <optional>
#include <set>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "metrics/text_format.hpp"

namespace gw::metrics {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using strand_type = asio::strand<asio::io_context::executor_type>;
using response = bhttp::response<bhttp::string_body>;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// A scrape or probe request is a request line and a few headers; anything bigger is refused.
constexpr std::uint32_t header_limit = 8 * 1024;
constexpr std::uint64_t body_limit = 4 * 1024;
constexpr std::size_t buffer_limit = header_limit + body_limit + 1024;
// How long a lingering close waits for the client to close its side.
constexpr std::chrono::milliseconds linger_limit{1000};
constexpr std::string_view plain_text = "text/plain; charset=utf-8";

boost::system::error_code invalid_argument() {
  return make_error_code(boost::system::errc::invalid_argument);
}

response make_response(bhttp::status status, std::string body,
                       std::string_view content_type = plain_text) {
  response res{status, 11};
  res.set(bhttp::field::content_type, content_type);
  res.keep_alive(false);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// What to tell a client whose request could not be read, or nothing when there is no one left
// to tell (closed before a request, timed out, reset, endpoint stopping).
std::optional<response> answer_read_error(const boost::system::error_code& ec) {
  if (ec == bhttp::error::end_of_stream) return std::nullopt;
  if (ec == bhttp::error::header_limit) {
    return make_response(bhttp::status::request_header_fields_too_large, "header too large\n");
  }
  if (ec == bhttp::error::body_limit) {
    return make_response(bhttp::status::payload_too_large, "body too large\n");
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
    return make_response(bhttp::status::bad_request, "bad request\n");
  }
  return std::nullopt;
}

// Keeps the number of live sessions right however a session's frame ends.
struct session_count {
  explicit session_count(std::size_t& n) : n_(n) {}
  ~session_count() { --n_; }
  session_count(const session_count&) = delete;
  session_count& operator=(const session_count&) = delete;
  std::size_t& n_;
};

}  // namespace

boost::system::result<listen_endpoint> parse_listen(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return invalid_argument();
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find_first_of(":[]") != std::string_view::npos) {
    return invalid_argument();  // an IPv6 literal needs brackets to be told from the port
  }
  if (host.empty()) return invalid_argument();
  unsigned port = 0;
  const auto* end = port_text.data() + port_text.size();
  const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (port_text.empty() || ec != std::errc{} || ptr != end || port > 65535) {
    return invalid_argument();
  }
  listen_endpoint out;
  out.host = host == "localhost" ? std::string("127.0.0.1") : std::string(host);
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

struct http_endpoint::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& io, http_endpoint_options options)
      : strand_(asio::make_strand(io)),
        acceptor_(strand_),
        retry_timer_(strand_),
        options_(std::move(options)) {}

  boost::system::result<std::uint16_t> start() {
    if (stopped_) return make_error_code(asio::error::operation_aborted);
    auto address = parse_listen(options_.listen);
    if (!address) return address.error();
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(address->host, ec);
    if (ec) return ec;
    const tcp::endpoint endpoint{ip, address->port};
    acceptor_.open(endpoint.protocol(), ec);
    // A restarted gateway must not wait for the old connections' TIME_WAIT to end.
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) {
      const auto local = acceptor_.local_endpoint(ec);
      if (!ec) {
        asio::co_spawn(strand_, accept_loop(shared_from_this()), asio::detached);
        return local.port();
      }
    }
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return ec;
  }

  // On the strand.
  void shutdown() {
    if (stopped_.exchange(true)) return;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
    for (auto* socket : sockets_) {
      socket->shutdown(tcp::socket::shutdown_both, ignored);
      socket->close(ignored);
    }
  }

  static awaitable<void> accept_loop(std::shared_ptr<impl> self) {
    for (;;) {
      auto [ec, socket] = co_await self->acceptor_.async_accept(use_tuple);
      if (self->stopped_) co_return;
      if (ec) {
        // Out of descriptors, or a connection reset while queued: try again shortly, not in a
        // tight loop.
        self->retry_timer_.expires_after(std::chrono::milliseconds(50));
        co_await self->retry_timer_.async_wait(use_tuple);
        continue;
      }
      if (self->sessions_ >= std::max<std::size_t>(1, self->options_.max_connections)) {
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      ++self->sessions_;
      asio::co_spawn(self->strand_, serve(self, std::move(socket)), asio::detached);
    }
  }

  static awaitable<void> serve(std::shared_ptr<impl> self, tcp::socket socket) {
    session_count counted(self->sessions_);
    if (self->stopped_) co_return;
    beast::tcp_stream stream(std::move(socket));
    self->sockets_.insert(&stream.socket());
    struct unregister {
      std::set<tcp::socket*>& set;
      tcp::socket* item;
      ~unregister() { set.erase(item); }
    } registered{self->sockets_, &stream.socket()};

    beast::flat_buffer buffer(buffer_limit);
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(header_limit);
    parser.body_limit(body_limit);
    stream.expires_after(self->options_.timeout);
    const auto [read_ec, read_n] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    std::optional<response> res = read_ec ? answer_read_error(read_ec) : self->answer(parser.get());
    if (!res || self->stopped_) co_return;

    stream.expires_after(self->options_.timeout);
    const auto [write_ec, write_n] = co_await bhttp::async_write(stream, *res, use_tuple);
    if (write_ec || self->stopped_) co_return;

    // Lingering close: had the client sent bytes the parser never read, closing now would make
    // the kernel answer with a RST that can destroy the response before the client reads it.
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(std::min(self->options_.timeout, linger_limit));
    std::array<char, 512> sink;
    for (;;) {
      const auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
      if (ec || self->stopped_) break;
    }
  }

  response answer(const bhttp::request<bhttp::string_body>& req) const {
    std::string_view path = req.target();
    path = path.substr(0, path.find('?'));
    const bool known = path == "/metrics" || path == "/healthz" || path == "/readyz";
    if (!known) return make_response(bhttp::status::not_found, "not found\n");
    if (req.method() != bhttp::verb::get) {
      auto res = make_response(bhttp::status::method_not_allowed, "method not allowed\n");
      res.set(bhttp::field::allow, "GET");
      return res;
    }
    try {
      if (path == "/healthz") {
        if (!options_.healthy || options_.healthy())
          return make_response(bhttp::status::ok, "ok\n");
        return make_response(bhttp::status::service_unavailable, "unhealthy\n");
      }
      if (path == "/readyz") {
        if (!options_.ready || options_.ready()) return make_response(bhttp::status::ok, "ready\n");
        return make_response(bhttp::status::service_unavailable, "not ready\n");
      }
      std::string body = options_.metrics ? options_.metrics() : std::string();
      return make_response(bhttp::status::ok, std::move(body), text_content_type);
    } catch (const std::exception&) {
      return make_response(bhttp::status::internal_server_error, "internal error\n");
    }
  }

  strand_type strand_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  http_endpoint_options options_;
  std::atomic<bool> stopped_{false};
  // On the strand only.
  std::size_t sessions_ = 0;
  std::set<tcp::socket*> sockets_;
};

http_endpoint::http_endpoint(asio::io_context& io, http_endpoint_options options)
    : impl_(std::make_shared<impl>(io, std::move(options))) {}

http_endpoint::~http_endpoint() {
  stop();
}

boost::system::result<std::uint16_t> http_endpoint::start() {
  return impl_->start();
}

void http_endpoint::stop() {
  asio::dispatch(impl_->strand_, [self = impl_] { self->shutdown(); });
}

}  // namespace gw::metrics
