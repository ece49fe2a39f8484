#include "upstream/connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include <openssl/ssl.h>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include "upstream/connection_impl.hpp"

namespace gw::upstream {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// RFC 9110 §5.6.2 tchar.
bool is_token(std::string_view text) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           extra.find(c) != std::string_view::npos;
  });
}

// RFC 9110 §8.6: a request whose method gives content a meaning carries Content-Length even
// when it is 0; some servers answer 411 otherwise.
bool method_expects_content(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

}  // namespace

error_code check_request(const request& req) {
  if (!is_token(req.method)) return error::bad_request;
  if (!req.target.empty() && req.target.front() != '/') return error::bad_request;
  if (!std::all_of(req.target.begin(), req.target.end(),
                   [](char c) { return c > 0x20 && c < 0x7f; })) {
    return error::bad_request;
  }
  for (const auto& h : req.headers) {
    if (!is_token(h.name)) return error::bad_request;
    // One pass; find_first_of with a set runs memchr over the set for every character.
    if (std::any_of(h.value.begin(), h.value.end(),
                    [](char c) { return c == '\r' || c == '\n' || c == '\0'; })) {
      return error::bad_request;
    }
  }
  return {};
}

wire_request serialize(const request& req, const base_url& origin, std::string_view host,
                       std::string_view user_agent) {
  wire_request out;
  out.head = req.method == "HEAD";
  std::size_t size = req.method.size() + origin.prefix.size() + req.target.size() + host.size() +
                     user_agent.size() + req.body.size() + 64;
  for (const auto& h : req.headers) {
    size += h.name.size() + h.value.size() + 4;
    if (beast::iequals(h.name, "user-agent")) user_agent = h.value;  // the caller's replaces ours
  }
  auto& w = out.bytes;
  w.reserve(size);
  w.append(req.method).append(" ").append(origin.prefix);
  w.append(req.target.empty() ? std::string_view("/") : std::string_view(req.target));
  w.append(" HTTP/1.1\r\nHost: ").append(host);
  w.append("\r\nUser-Agent: ").append(user_agent).append("\r\n");
  for (const auto& h : req.headers) {
    // Host and the message framing belong to the client (RFC 9112 §6); a caller's copy could
    // contradict them and desynchronise the connection.
    if (beast::iequals(h.name, "host") || beast::iequals(h.name, "content-length") ||
        beast::iequals(h.name, "transfer-encoding") || beast::iequals(h.name, "user-agent")) {
      continue;
    }
    // RFC 9112 §9.6: "close" among the connection options ends the connection after this one.
    if (beast::iequals(h.name, "connection") && http::token_list{h.value}.exists("close"))
      out.keep_alive = false;
    w.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  if (!req.body.empty() || method_expects_content(req.method))
    w.append("Content-Length: ").append(std::to_string(req.body.size())).append("\r\n");
  w.append("\r\n").append(req.body);
  return out;
}

response to_response(http_response&& msg) {
  response out;
  out.status = msg.result_int();
  for (const auto& field : msg) {
    out.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  }
  out.body = std::move(msg.body());
  return out;
}

connection::impl::impl(asio::any_io_executor executor, const base_url& url, ssl::context* tls,
                       bool verify)
    : origin(url), host_field(url.host_field()), verify_host(verify) {
  if (tls) {
    secure.emplace(std::move(executor), *tls);
  } else {
    plain.emplace(std::move(executor));
  }
}

connection::connection(asio::any_io_executor executor, const base_url& origin, ssl::context* tls,
                       bool verify_host)
    : impl_(std::make_unique<impl>(std::move(executor), origin, tls, verify_host)) {}

connection::~connection() = default;

asio::awaitable<error_code> connection::async_connect(
    std::vector<asio::ip::tcp::endpoint> endpoints, clock::time_point deadline) {
  auto& self = *impl_;
  auto& tcp = self.tcp();
  tcp.expires_at(deadline);
  auto [connect_ec, endpoint] = co_await tcp.async_connect(endpoints, use_tuple);
  if (connect_ec) co_return self.fail(connect_ec, error::connect_failed);
  error_code ignored;
  tcp.socket().set_option(asio::ip::tcp::no_delay(true), ignored);

  if (self.secure) {
    // RFC 6066 §3: SNI names hosts only, never IP literals.
    if (!self.origin.host_is_address() &&
        SSL_set_tlsext_host_name(self.secure->native_handle(), self.origin.host.c_str()) != 1) {
      co_return self.fail({}, error::tls_failed);
    }
    if (self.verify_host) {
      self.secure->set_verify_callback(ssl::host_name_verification(self.origin.host), ignored);
    }
    auto [handshake_ec] =
        co_await self.secure->async_handshake(ssl::stream_base::client, use_tuple);
    if (handshake_ec) co_return self.fail(handshake_ec, error::tls_failed);
  }
  tcp.expires_never();
  self.connected = true;
  co_return error_code{};
}

asio::awaitable<result> connection::async_exchange(const request& req, std::string_view user_agent,
                                                   clock::time_point deadline) {
  auto msg = serialize(req, impl_->origin, impl_->host_field, user_agent);
  if (impl_->secure) return impl_->exchange_tls(std::move(msg), deadline);
  return impl_->exchange_plain(std::move(msg), deadline);
}

bool connection::connected() const {
  return impl_->connected;
}

bool connection::reusable() const {
  return impl_->reusable;
}

bool connection::answer_started() const {
  return impl_->answer_started;
}

bool connection::peer_closed() {
  auto& socket = impl_->tcp().socket();
  if (!socket.is_open()) return true;
  // One system call: MSG_DONTWAIT leaves the socket's mode alone (switching it to non-blocking
  // and back cost two ioctls, and Asio a third to switch it again for its next operation).
  char byte = 0;
  const auto got = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  // EAGAIN is the only answer of a healthy idle connection: EOF, a reset or unsolicited
  // bytes (a 408, a TLS close_notify) all mean the server is done with it.
  return !(got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

void connection::close() {
  impl_->aborted = true;
  impl_->tcp().close();
}

}  // namespace gw::upstream
