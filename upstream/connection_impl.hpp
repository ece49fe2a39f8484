#pragma once
// connection's state and its HTTP exchange, for the connection's own translation units only:
// connection.cpp (connect, handshake, the rest), connection_plain.cpp and connection_tls.cpp
// (one instantiation of the exchange each, so no single file compiles all of Beast's read
// machinery twice).
#include <optional>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "upstream/connection.hpp"
#include "upstream/error.hpp"

namespace gw::upstream {

using http_response = boost::beast::http::response<boost::beast::http::string_body>;

// A request as it goes on the wire, head and body in one buffer: one write, and over TLS one
// record. Written here rather than by Beast's serializer, which walked its field list and a
// variant of buffer sequences for every request (a quarter of a Read's instructions); the
// request was checked before (check_request: method and header names are tokens, no CR, LF
// or NUL anywhere), so there is nothing left to escape.
struct wire_request {
  std::string bytes;
  bool head = false;       // a HEAD: the answer has no body whatever its framing says
  bool keep_alive = true;  // false when the caller sent Connection: close
};

// The wire form of req: origin.prefix before the target, Host (origin.host_field(), made once
// per connection by the caller), User-Agent, Content-Length.
wire_request serialize(const request& req, const base_url& origin, std::string_view host_field,
                       std::string_view user_agent);
response to_response(http_response&& msg);

struct connection::impl {
  impl(boost::asio::any_io_executor executor, const base_url& url, boost::asio::ssl::context* tls,
       bool verify);

  boost::beast::tcp_stream& tcp() { return secure ? secure->next_layer() : *plain; }

  // After a failure the connection is never reused: close it so the server sees that at once.
  boost::system::error_code fail(boost::system::error_code ec, error otherwise) {
    reusable = false;
    tcp().close();
    if (aborted) return error::shutting_down;
    if (ec == boost::beast::error::timeout) return error::timed_out;
    return otherwise;
  }

  boost::system::error_code fail_exchange(boost::system::error_code ec) {
    namespace http = boost::beast::http;
    static const auto& parse_errors = http::make_error_code(http::error::bad_version).category();
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec == boost::asio::ssl::error::stream_truncated) {
      return fail(ec, error::connection_closed);
    }
    if (ec.category() == parse_errors) return fail(ec, error::protocol_error);
    // A TLS alert after the handshake: with TLS 1.3 a server rejects a client certificate
    // only once the client has already finished its side of the handshake.
    if (ec.category() == boost::asio::error::get_ssl_category()) {
      return fail(ec, error::tls_failed);
    }
    return fail(ec, error::connection_closed);
  }

  // connection_plain.cpp and connection_tls.cpp.
  boost::asio::awaitable<result> exchange_plain(wire_request msg, clock::time_point deadline);
  boost::asio::awaitable<result> exchange_tls(wire_request msg, clock::time_point deadline);

  template <class Stream>
  boost::asio::awaitable<result> exchange(Stream& stream, wire_request msg,
                                          clock::time_point deadline) {
    namespace http = boost::beast::http;
    constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
    reusable = false;
    answer_started = false;
    tcp().expires_at(deadline);
    auto [write_ec, written] =
        co_await boost::asio::async_write(stream, boost::asio::buffer(msg.bytes), use_tuple);
    if (write_ec) co_return fail_exchange(write_ec);
    for (;;) {
      http::response_parser<http::string_body> parser;
      parser.body_limit(max_body_size);
      parser.header_limit(max_header_size);
      parser.skip(msg.head);
      auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
      answer_started = answer_started || parser.got_some() || buffer.size() > 0;
      if (read_ec) co_return fail_exchange(read_ec);
      // RFC 9110 §15.2: 1xx answers are interim; the final one follows on the same connection.
      if (parser.get().result_int() / 100 == 1) continue;
      // Bytes beyond the response were never asked for: the connection is out of step.
      reusable = parser.keep_alive() && msg.keep_alive && buffer.size() == 0;
      tcp().expires_never();
      co_return to_response(parser.release());
    }
  }

  static constexpr std::uint32_t max_header_size = 64 * 1024;

  base_url origin;
  std::string host_field;  // origin.host_field()
  bool verify_host;
  std::optional<boost::beast::tcp_stream> plain;
  // The request is one buffer (wire_request), so over TLS it is one record.
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> secure;
  boost::beast::flat_buffer buffer;
  bool connected = false;
  bool aborted = false;
  bool reusable = false;
  bool answer_started = false;
};

}  // namespace gw::upstream
