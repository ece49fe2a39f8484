#pragma once
// A scripted HTTP/1.1 server for the client tests: 127.0.0.1, port 0, plain TCP or TLS, on the
// test's own io_context. A script decides what happens to each request; counters record what
// the client did to the server (connections, closes, requests seen).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace boost::asio::ssl {
class context;
}

namespace gw::upstream::test {

struct seen_request {
  std::size_t connection = 0;  // accept order, from 0
  std::size_t index = 0;       // position on its connection, from 0
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<std::string> header(std::string_view name) const;  // case-insensitive
};

enum class reply_kind {
  answer,            // keep-alive answer
  answer_and_close,  // answer with Connection: close, then close
  answer_then_drop,  // keep-alive answer, then close anyway (a server expiring an idle connection)
  answer_then_408,   // keep-alive answer; once release() is called, a 408 and close
  drop,              // close without answering
  garbage,           // bytes that are not HTTP
  oversized,         // a head announcing a body beyond the client's 64 MiB limit
  interim,           // 100 Continue, then the answer
  chunked,           // the answer's body in chunks
  silent,            // never answer
  hold,              // answer once release() is called
};

struct reply {
  reply_kind kind = reply_kind::answer;
  unsigned status = 200;
  std::string body = "ok";
  std::vector<std::pair<std::string, std::string>> headers;
};

inline reply make_reply(reply_kind kind, std::string body = "ok") {
  reply r;
  r.kind = kind;
  r.body = std::move(body);
  return r;
}

class scripted_server {
 public:
  using script = std::function<reply(const seen_request&)>;

  // tls: a server context to speak TLS with, or null for plain TCP.
  scripted_server(boost::asio::any_io_executor executor, script s,
                  boost::asio::ssl::context* tls = nullptr);
  scripted_server(const scripted_server&) = delete;
  scripted_server& operator=(const scripted_server&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const;  // "http://127.0.0.1:PORT" or "https://..."

  const std::vector<seen_request>& requests() const { return requests_; }
  std::size_t count(std::string_view method) const;
  std::size_t accepted() const { return accepted_; }
  std::size_t open() const { return open_; }
  std::size_t max_open() const { return max_open_; }
  std::size_t closed_by_client() const { return closed_by_client_; }
  std::size_t closed_by_server() const { return closed_by_server_; }
  const std::vector<std::string>& server_names() const { return server_names_; }  // TLS SNI

  void release();  // answers every held request, now and from now on
  // Closes the listener and every connection; the coroutines end once the loop runs.
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> handle(boost::asio::ip::tcp::socket socket, std::size_t id);
  template <class Stream>
  boost::asio::awaitable<void> serve(Stream& stream, std::size_t id);

  boost::asio::any_io_executor executor_;
  script script_;
  boost::asio::ssl::context* tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer gate_;  // held answers wait on it; release() cancels it
  bool released_ = false;
  std::uint16_t port_ = 0;
  std::list<boost::asio::ip::tcp::socket*> sockets_;
  std::vector<seen_request> requests_;
  std::vector<std::string> server_names_;
  std::size_t accepted_ = 0;
  std::size_t open_ = 0;
  std::size_t max_open_ = 0;
  std::size_t closed_by_client_ = 0;
  std::size_t closed_by_server_ = 0;
};

}  // namespace gw::upstream::test
