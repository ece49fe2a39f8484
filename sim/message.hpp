#pragma once
// The values the pure handlers take and return. The Beast layer in server.cpp converts to and
// from them; nothing else in sim/ sees Beast.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/ascii.hpp"
#include "sim/state.hpp"

namespace gw::sim {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct request {
  std::string method = "GET";
  std::string target = "/";
  header_list headers;
  std::string body;

  // Case-insensitive name; the first match.
  std::optional<std::string_view> header(std::string_view name) const;
  std::string_view path() const;   // the target up to '?'
  std::string_view query() const;  // after '?', empty when there is none
};

struct response {
  unsigned status = 200;
  header_list headers;
  std::string body;

  std::optional<std::string_view> header(std::string_view name) const;
  response& with(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

inline constexpr std::string_view text_plain = "text/plain; charset=utf-8";
inline constexpr std::string_view form_urlencoded =
    "application/x-www-form-urlencoded; charset=utf-8";
inline constexpr std::string_view application_json = "application/json; charset=utf-8";

response make_response(unsigned status, std::string body = {},
                       std::string_view content_type = text_plain);

// A request that cannot be answered yet: a long-poll or an RPC `wait`. The server calls poll()
// once more after every change of the state and once at the deadline; poll() returns the answer
// as soon as there is one and always returns one when `now` is at or past deadline(). It refers
// to the state by keys (CIK, alias), never by pointers kept between polls.
class deferred {
 public:
  virtual ~deferred() = default;
  virtual time_point deadline() const = 0;
  virtual std::optional<response> poll(state& st, time_point now) = 0;
};

using outcome = std::variant<response, std::unique_ptr<deferred>>;

// RFC 9110 §5.1: field names (and the sim's other protocol tokens) compare without case.
using base::iequals;

}  // namespace gw::sim
