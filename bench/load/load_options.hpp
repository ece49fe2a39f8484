#pragma once
// coap-load's command line, parsed into values so that main stays thin and the rules are
// tested (tests/unit/bench).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/coap/message.hpp"

namespace gw::bench {

using std::chrono::nanoseconds;

// "GET /1a/temp?<CIK>": a method, Uri-Path segments and Uri-Query items, where the text <CIK>
// stands for the client's CIK (the first Uri-Query, as the Exosite CoAP API wants it).
struct request_template {
  coap::code method = coap::codes::get;
  std::vector<std::string> path;
  std::vector<std::string> queries;

  bool needs_cik() const;
};

inline constexpr std::string_view cik_placeholder = "<CIK>";

// METHOD is GET, POST, PUT, DELETE or FETCH; the path starts with '/'; empty segments are
// dropped ("/" is the root); queries are split on '&'. No percent-decoding: bytes go as written.
bool parse_request_template(std::string_view text, request_template& out, std::string& problem);

// The request one client sends (type, MID and token are the sender's): `cik` replaces every
// <CIK> in path segments and queries.
coap::message make_request(const request_template& t, std::string_view cik);

// Dotted IPv4, host byte order.
bool parse_ipv4(std::string_view text, std::uint32_t& out);
// "127.0.0.2-127.0.0.50" (inclusive, at most 65536 addresses) or one address.
bool parse_sources(std::string_view text, std::vector<std::uint32_t>& out, std::string& problem);
// "5" or "5s", "500ms", "250us", "1.5s", "2m".
bool parse_duration(std::string_view text, nanoseconds& out);

// A DTLS PSK credential (RFC 4279) as the gateway's psk_file writes it (docs/dtls.md):
// "IDENTITY:KEY", the identity ending at the first ':' not escaped as "\:" ("\\" is a '\');
// KEY is "hex:00ff...", "text:..." or, without a prefix, the text itself.
struct dtls_psk {
  std::string identity;
  std::vector<std::uint8_t> key;
};
bool parse_dtls_psk(std::string_view text, dtls_psk& out, std::string& problem);

struct load_options {
  std::uint32_t target_address = 0x7f000001;  // 127.0.0.1
  std::uint16_t target_port = 5683;
  std::size_t clients = 64;
  // Closed loop: requests each client keeps in flight. Open loop: the most a client may have in
  // flight; a due request finding its client at the limit is counted as skipped, not queued.
  std::size_t outstanding = 1;
  std::optional<double> rate;  // open loop, requests/s over all clients
  bool poisson = false;
  request_template request{coap::codes::get, {".well-known", "core"}, {}};
  std::string payload;
  std::optional<std::uint16_t> content_format;
  std::string ciks_file;          // one CIK a line; client i uses line i mod count
  std::vector<std::string> ciks;  // --cik, or the file once main has read it
  bool non = false;
  bool retransmit = true;  // CON only (RFC 7252 §4.2)
  nanoseconds ack_timeout = std::chrono::seconds(2);
  double ack_random_factor = 1.5;
  std::uint32_t max_retransmit = 4;
  // How long an answer is awaited when nothing is retransmitted: NON requests, CON with
  // --no-retransmit, and a separate response after its empty ACK.
  nanoseconds timeout = std::chrono::seconds(5);
  nanoseconds duration = std::chrono::seconds(5);
  nanoseconds warmup = std::chrono::seconds(1);
  // After the run: no new requests, answers and notifications still recorded for this long.
  nanoseconds drain = std::chrono::milliseconds(500);
  // Observe mode (RFC 7641): each client registers Observe=0 on the request's resource during
  // the warm-up and counts notifications whose value is a CLOCK_REALTIME microsecond stamp.
  bool observe = false;
  // Observe mode: a request sent every write_interval from one extra socket, whose payload is
  // the sender's CLOCK_REALTIME in microseconds (the stamp the observers measure against).
  std::optional<request_template> write;
  nanoseconds write_interval = std::chrono::seconds(1);
  // Observe mode: registrations are spread evenly over this much of the warm-up (by default all
  // of it). When it ends a write_interval or more before the window, writes start that long
  // after it, inside the warm-up: their notifications are not counted, and every relation has
  // had one before the window (a gateway sends a NON relation's first notification as CON).
  std::optional<nanoseconds> register_over;
  // DTLS (RFC 6347) with a PSK: every client completes its handshake before the warm-up starts,
  // at most handshake_concurrency at a time; a handshake not done within handshake_timeout fails
  // (counted) and that client sends nothing.
  std::optional<dtls_psk> dtls;
  std::string dtls_ciphers = "PSK-AES128-CCM8";  // RFC 7252 §9.1.3.1's mandatory suite
  std::size_t handshake_concurrency = 64;
  nanoseconds handshake_timeout = std::chrono::seconds(10);
  // No requests at all: the clients (and their sessions) are held for the whole run. For memory
  // benchmarks of the server's idle state.
  bool idle = false;
  // "coap-load: window starts" / "coap-load: window ends" on stderr as the measured window
  // opens and closes, so a script can take a server's CPU time over exactly that window.
  bool marks = false;
  std::vector<std::uint32_t> sources;  // empty: the kernel picks the source address
  std::uint64_t seed = 1;
  std::string json_path;  // "-" is stdout (the summary then goes to stderr)
  bool quiet = false;     // no human summary
  bool help = false;
};

extern const std::string_view usage_text;

// args excludes the program name. On failure returns false with a one-line problem.
bool parse_command_line(std::span<const std::string_view> args, load_options& out,
                        std::string& problem);

// One CIK a line; blank lines and lines starting with '#' skipped, surrounding blanks trimmed.
bool load_ciks(const std::string& path, std::vector<std::string>& out, std::string& problem);

}  // namespace gw::bench
