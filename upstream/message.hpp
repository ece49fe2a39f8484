#pragma once
// An HTTP request and response as plain values: what translate/ plans and renders, and what
// upstream::client sends and returns. No Asio here, so the pure layers stay free of it.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gw::upstream {

struct header {
  std::string name;
  std::string value;
};

struct request {
  std::string method = "GET";   // GET, POST, ...
  std::string target;           // path and query, relative to the configured base URL's path
  std::vector<header> headers;  // Host, User-Agent and Content-Length are added by the client
  std::string body;
  // Overrides the configured per-request deadline (a long-poll passes Request-Timeout + margin).
  std::optional<std::chrono::milliseconds> timeout;
  // Whether a request that failed on a reused connection before any answer byte may be
  // retried once on a fresh connection. Defaults from the method (GET/HEAD yes, POST no).
  std::optional<bool> idempotent;
};

struct response {
  unsigned status = 0;
  std::vector<header> headers;
  std::string body;
  // Case-insensitive; the first match, or nullopt.
  std::optional<std::string_view> find_header(std::string_view name) const;
};

}  // namespace gw::upstream
