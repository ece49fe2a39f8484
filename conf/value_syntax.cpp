#include "conf/value_syntax.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <limits>

namespace gw::conf {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Leading decimal digits of `text`, saturating: `overflow` is set when they exceed `limit`.
std::size_t read_digits(std::string_view text, std::uint64_t limit, std::uint64_t& out,
                        bool& overflow) {
  std::size_t i = 0;
  out = 0;
  overflow = false;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (out > (limit - digit) / 10) overflow = true;
    if (!overflow) out = out * 10 + digit;
  }
  return i;
}

struct unit {
  std::string_view suffix;
  std::uint64_t factor;
};

constexpr std::array<unit, 5> duration_units{
    {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}};

constexpr std::array<unit, 5> size_units{
    {{"", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40}}};

template <std::size_t N>
value_syntax read_with_units(std::string_view text, const std::array<unit, N>& units,
                             std::uint64_t limit, std::uint64_t& out) {
  std::uint64_t number = 0;
  bool overflow = false;
  std::size_t digits = read_digits(text, limit, number, overflow);
  if (digits == 0) return value_syntax::malformed;
  std::string_view suffix = text.substr(digits);
  for (const unit& u : units) {
    if (suffix != u.suffix) continue;
    if (overflow || number > limit / u.factor) return value_syntax::too_large;
    out = number * u.factor;
    return value_syntax::ok;
  }
  return value_syntax::malformed;
}

// Canonical text of a numeric literal of `family`, or "" when `host` is not one.
std::string numeric_host(int family, std::string_view host) {
  std::string copy(host);  // inet_pton needs a terminated string
  std::array<unsigned char, sizeof(in6_addr)> bytes{};
  if (inet_pton(family, copy.c_str(), bytes.data()) != 1) return {};
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (inet_ntop(family, bytes.data(), text.data(), text.size()) == nullptr) return {};
  return text.data();
}

bool read_port(std::string_view text, std::uint64_t max, std::uint16_t& out) {
  std::uint64_t port = 0;
  bool overflow = false;
  if (text.empty() || read_digits(text, max, port, overflow) != text.size() || overflow) {
    return false;
  }
  out = static_cast<std::uint16_t>(port);
  return true;
}

}  // namespace

value_syntax read_count(std::string_view text, std::uint64_t& out) {
  std::uint64_t number = 0;
  bool overflow = false;
  std::size_t digits =
      read_digits(text, std::numeric_limits<std::uint64_t>::max(), number, overflow);
  if (digits == 0 || digits != text.size()) return value_syntax::malformed;
  if (overflow) return value_syntax::too_large;
  out = number;
  return value_syntax::ok;
}

value_syntax read_duration(std::string_view text, duration& out) {
  std::uint64_t ms = 0;
  constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<duration::rep>::max());
  value_syntax r = read_with_units(text, duration_units, limit, ms);
  if (r == value_syntax::malformed && !text.empty()) {
    std::uint64_t ignored = 0;
    if (read_count(text, ignored) != value_syntax::malformed) return value_syntax::missing_unit;
  }
  if (r == value_syntax::ok) out = duration{static_cast<duration::rep>(ms)};
  return r;
}

value_syntax read_size(std::string_view text, std::uint64_t& out) {
  return read_with_units(text, size_units, std::numeric_limits<std::uint64_t>::max(), out);
}

std::string read_listen(std::string_view text, listen_address& out) {
  const std::string example = " (e.g. 0.0.0.0:5683 or [::]:5683)";
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return quote(text) + ": expected host:port" + example;
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  std::string canonical;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    canonical = numeric_host(AF_INET6, host.substr(1, host.size() - 2));
    if (canonical.empty()) {
      return quote(text) + ": " + quote(host.substr(1, host.size() - 2)) +
             " is not a numeric IPv6 address";
    }
  } else if (host.find(':') != std::string_view::npos || host.find('[') != std::string_view::npos) {
    return quote(text) + ": write an IPv6 address in brackets, followed by the port (e.g. " +
           "[::1]:5683)";
  } else if (host == "localhost") {
    canonical = host;
  } else {
    canonical = numeric_host(AF_INET, host);
    if (canonical.empty()) {
      return quote(text) + ": host must be a numeric IPv4 or IPv6 address or localhost";
    }
  }
  std::uint16_t port = 0;
  if (!read_port(port_text, 65535, port)) {
    return quote(text) + ": port must be a number from 0 to 65535";
  }
  out = listen_address{std::move(canonical), port};
  return {};
}

std::string check_url(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return quote(text) + ": a URL cannot contain spaces or control characters";
    }
  }
  std::string_view rest;
  if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else if (text.starts_with("https://")) {
    rest = text.substr(8);
  } else {
    return quote(text) + ": must start with http:// or https://";
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return quote(text) + ": a base URL cannot have a query or fragment";
  }
  std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.find('@') != std::string_view::npos) {
    return quote(text) + ": user names and passwords in the URL are not supported";
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos ||
        numeric_host(AF_INET6, authority.substr(1, close - 1)).empty()) {
      return quote(text) + ": the bracketed host is not a numeric IPv6 address";
    }
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) {
      return quote(text) + ": expected a port after the IPv6 address";
    }
    if (!after.empty()) port = after.substr(1);
  } else if (std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return quote(text) + ": port must be a number from 1 to 65535";
  }
  if (host.empty()) return quote(text) + ": has no host";
  if (!host.starts_with('[')) {
    for (char c : host) {
      bool ok = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
                c == '.' || c == '_';
      if (!ok) return quote(text) + ": the host contains characters not allowed in a host name";
    }
  }
  std::uint16_t port_number = 0;
  if (!port.empty() && (!read_port(port, 65535, port_number) || port_number == 0)) {
    return quote(text) + ": port must be a number from 1 to 65535";
  }
  return {};
}

std::string quote(std::string_view text) {
  constexpr std::size_t max_shown = 64;
  constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < max_shown; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (text.size() > max_shown) out += "...";
  return out;
}

std::string format_duration(duration d) {
  auto ms = d.count();
  if (ms == 0) return "0s";
  for (auto u = duration_units.rbegin(); u != duration_units.rend(); ++u) {
    auto factor = static_cast<duration::rep>(u->factor);
    if (ms % factor == 0) return std::to_string(ms / factor).append(u->suffix);
  }
  return std::to_string(ms) + "ms";
}

std::string format_size(std::uint64_t bytes) {
  if (bytes == 0) return "0";
  for (auto u = size_units.rbegin(); u != size_units.rend(); ++u) {
    if (bytes % u->factor == 0) return std::to_string(bytes / u->factor).append(u->suffix);
  }
  return std::to_string(bytes);
}

std::string format_listen(const listen_address& a) {
  bool v6 = a.host.find(':') != std::string::npos;
  return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

}  // namespace gw::conf
