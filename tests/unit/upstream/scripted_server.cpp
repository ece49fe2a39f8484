#include "tests/unit/upstream/scripted_server.hpp"

#include <algorithm>
#include <cstdio>

#include <openssl/ssl.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "base/ascii.hpp"

namespace gw::upstream::test {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

using base::iequals;

// The client under test writes well-formed requests; this parser only has to read them.
seen_request parse_head(std::string_view head) {
  seen_request req;
  const auto line_end = head.find("\r\n");
  const auto request_line = head.substr(0, line_end);
  const auto first = request_line.find(' ');
  const auto second = request_line.find(' ', first + 1);
  req.method = request_line.substr(0, first);
  req.target = request_line.substr(first + 1, second - first - 1);
  head.remove_prefix(line_end + 2);
  while (!head.empty()) {
    const auto end = head.find("\r\n");
    const auto line = head.substr(0, end);
    head.remove_prefix(end + 2);
    if (line.empty()) break;
    const auto colon = line.find(':');
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    req.headers.emplace_back(line.substr(0, colon), value);
  }
  return req;
}

std::string render(const reply& r, const seen_request& req, bool close) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " Scripted\r\n";
  for (const auto& [name, value] : r.headers) out += name + ": " + value + "\r\n";
  if (close) out += "Connection: close\r\n";
  if (r.kind == reply_kind::chunked) {
    out += "Transfer-Encoding: chunked\r\n\r\n";
    const auto half = r.body.size() / 2;
    for (const auto& part : {r.body.substr(0, half), r.body.substr(half)}) {
      if (part.empty()) continue;
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", part.size());
      out += size + part + "\r\n";
    }
    return out + "0\r\n\r\n";
  }
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n";
  if (req.method != "HEAD") out += r.body;
  return out;
}

tcp::socket& lowest(tcp::socket& s) {
  return s;
}
tcp::socket& lowest(ssl::stream<tcp::socket>& s) {
  return s.next_layer();
}

}  // namespace

std::optional<std::string> seen_request::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return std::nullopt;
}

scripted_server::scripted_server(asio::any_io_executor executor, script s, ssl::context* tls)
    : executor_(executor),
      script_(std::move(s)),
      tls_(tls),
      acceptor_(executor, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
      gate_(executor, asio::steady_timer::time_point::max()) {
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(executor_, accept_loop(), asio::detached);
}

std::string scripted_server::url() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::size_t scripted_server::count(std::string_view method) const {
  return std::count_if(requests_.begin(), requests_.end(),
                       [method](const seen_request& r) { return r.method == method; });
}

void scripted_server::release() {
  released_ = true;
  gate_.cancel();
}

void scripted_server::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto* socket : sockets_) socket->close(ignored);
  release();
}

asio::awaitable<void> scripted_server::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (ec) co_return;
    asio::co_spawn(executor_, handle(std::move(socket), accepted_++), asio::detached);
  }
}

asio::awaitable<void> scripted_server::handle(tcp::socket socket, std::size_t id) {
  ++open_;
  max_open_ = std::max(max_open_, open_);
  if (tls_) {
    ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
    const auto pos = sockets_.insert(sockets_.end(), &stream.next_layer());
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
    if (!ec) {
      const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
      server_names_.emplace_back(name ? name : "");
      co_await serve(stream, id);
    }
    sockets_.erase(pos);
  } else {
    const auto pos = sockets_.insert(sockets_.end(), &socket);
    co_await serve(socket, id);
    sockets_.erase(pos);
  }
  --open_;
}

// Returns with the socket closed and the closing side counted.
template <class Stream>
asio::awaitable<void> scripted_server::serve(Stream& stream, std::size_t id) {
  boost::system::error_code ignored;
  std::string buffer;
  for (std::size_t index = 0;; ++index) {
    auto [ec, head_size] = co_await asio::async_read_until(stream, asio::dynamic_buffer(buffer),
                                                           "\r\n\r\n", use_tuple);
    if (ec) {
      const bool stopped = !lowest(stream).is_open();
      lowest(stream).close(ignored);
      if (!stopped) ++closed_by_client_;
      co_return;
    }
    auto req = parse_head(std::string_view(buffer).substr(0, head_size));
    buffer.erase(0, head_size);
    const auto length_field = req.header("content-length");
    const std::size_t length = length_field ? std::stoul(*length_field) : 0;
    if (buffer.size() < length) {
      auto [body_ec, n] =
          co_await asio::async_read(stream, asio::dynamic_buffer(buffer),
                                    asio::transfer_exactly(length - buffer.size()), use_tuple);
      if (body_ec) {
        lowest(stream).close(ignored);
        co_return;
      }
    }
    req.body = buffer.substr(0, length);
    buffer.erase(0, length);
    req.connection = id;
    req.index = index;
    requests_.push_back(req);

    const reply r = script_(req);
    std::string out;
    switch (r.kind) {
      case reply_kind::silent:
        continue;
      case reply_kind::drop:
        lowest(stream).close(ignored);
        ++closed_by_server_;
        co_return;
      case reply_kind::garbage:
        out = "this is not HTTP\r\n\r\n";
        break;
      case reply_kind::oversized:
        out = "HTTP/1.1 200 OK\r\nContent-Length: 67108865\r\n\r\n";
        break;
      case reply_kind::interim:
        out = "HTTP/1.1 100 Continue\r\n\r\n" + render(r, req, false);
        break;
      case reply_kind::hold:
        while (!released_) co_await gate_.async_wait(use_tuple);
        out = render(r, req, false);
        break;
      default:
        out = render(r, req, r.kind == reply_kind::answer_and_close);
    }
    auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(out), use_tuple);
    if (write_ec) {
      lowest(stream).close(ignored);
      co_return;
    }
    if (r.kind == reply_kind::answer_then_408) {
      // As a server that expires an idle connection with a 408 (RFC 9110 §15.5.9) does.
      while (!released_) co_await gate_.async_wait(use_tuple);
      static constexpr std::string_view expired =
          "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
      co_await asio::async_write(stream, asio::buffer(expired), use_tuple);
    }
    if (r.kind == reply_kind::answer_and_close || r.kind == reply_kind::answer_then_drop ||
        r.kind == reply_kind::answer_then_408) {
      lowest(stream).close(ignored);
      ++closed_by_server_;
      co_return;
    }
  }
}

}  // namespace gw::upstream::test
