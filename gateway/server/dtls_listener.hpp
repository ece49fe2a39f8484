#pragma once
// A worker's coaps side (RFC 7252 §9): its DTLS sockets (SO_REUSEPORT, like the plain ones),
// the sessions keyed by peer, stateless cookies before any session exists, and the handshake,
// idle and retransmission timers. Decrypted datagrams go to the worker's one endpoint with a
// peer whose transport is dtls; the endpoint's sends to such a peer come back through send().
// Internal to gw_server.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "gateway/core/endpoint.hpp"
#include "gateway/server/dtls_stats.hpp"
#include "gateway/server/udp_server.hpp"

typedef struct ssl_st SSL;
typedef union bio_addr_st BIO_ADDR;

namespace gw::server {

class dtls_context;
class dtls_session;

class dtls_listener {
 public:
  // `after_input` runs once the endpoint was fed (the worker flushes what it produced). Throws
  // std::runtime_error when the certificates or keys cannot be used (start-up only).
  dtls_listener(boost::asio::io_context& io, const dtls_options& options, core::endpoint& endpoint,
                std::function<void()> after_input);
  ~dtls_listener();

  // A bound, non-blocking socket of the worker's io_context.
  void adopt(boost::asio::ip::udp::socket socket);
  boost::asio::ip::udp::endpoint local_endpoint(std::size_t socket) const;
  void start();
  // Close every session (close_notify) and stop reading.
  void stop();

  // Encrypts one CoAP datagram for an open session; false when `to` has none (dropped).
  bool send(const core::peer& to, std::span<const std::uint8_t> datagram);
  void on_timer(core::time_point now);
  std::optional<core::time_point> next_deadline() const;
  void set_psk(std::shared_ptr<const psk_table> table);
  // "psk:<identity>" or "cert:<subject>"; empty when `who` has no open session.
  std::string identity_of(const core::peer& who) const;
  dtls_stats stats() const;
  // Datagrams the kernel dropped on the coaps sockets because their receive buffer was full
  // (SO_RXQ_OVFL, set by the worker when it opened them): part of udp_receive_drops_total.
  std::uint64_t receive_drops() const;

 private:
  boost::asio::awaitable<void> receive_loop(std::size_t socket);
  void on_datagram(const core::peer& from, std::span<const std::uint8_t> data,
                   core::time_point now);
  // The stateless step (RFC 6347 §4.2.1): a ClientHello without a valid cookie gets a
  // HelloVerifyRequest and leaves nothing behind; with one, a session is made.
  void on_client_hello(const core::peer& from, std::span<const std::uint8_t> data,
                       core::time_point now);
  void drive(dtls_session& s, core::time_point now);
  void fail(dtls_session& s, handshake_failure why);
  // Sends our close_notify (RFC 5246 §7.2.1) and frees the session.
  void close(const core::peer& who);
  void erase(const core::peer& who);
  void send_out(dtls_session& s);
  void send_raw(const core::peer& to, std::span<const std::uint8_t> datagram);
  bool rate_allows(const core::peer& from, core::time_point now);

  boost::asio::io_context& io_;
  dtls_options options_;
  core::endpoint& endpoint_;
  std::function<void()> after_input_;
  dtls_stats stats_;
  std::unique_ptr<dtls_context> ctx_;
  std::vector<boost::asio::ip::udp::socket> sockets_;
  std::vector<std::uint32_t> kernel_drops_;  // per socket: SO_RXQ_OVFL's last count
  // Reused for every ClientHello that has no session yet: DTLSv1_listen runs on it, and it
  // becomes the session's SSL once the cookie came back.
  SSL* listening_ = nullptr;
  BIO_ADDR* listen_peer_ = nullptr;
  std::unordered_map<core::peer, std::unique_ptr<dtls_session>, core::peer_hash> sessions_;
  std::unordered_set<core::peer, core::peer_hash> handshaking_;
  // handshake_rate and handshake_rate_per_source: token buckets in the two tiers of the
  // request limits (keyed hashing, the same address grouping and trusted_proxies).
  core::source_limits handshakes_;
  core::time_point next_sweep_{};
  std::vector<std::uint8_t> buffer_;
  bool stopped_ = false;
};

}  // namespace gw::server
