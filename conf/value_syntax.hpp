#pragma once
// The text forms of config values: durations, sizes, counts, listen addresses and URLs, both ways.
// The parsers report why a text was refused so that the loader can tell the user what to write;
// load.hpp's bool parse_* functions are thin wrappers over these.
#include <cstdint>
#include <string>
#include <string_view>

#include "conf/config.hpp"

namespace gw::conf {

enum class value_syntax {
  ok,
  malformed,     // not the expected form at all
  missing_unit,  // a duration written as a bare number
  too_large,     // the right form, but beyond what the field can hold
};

// Decimal digits only: no sign, no base prefix, no separators.
value_syntax read_count(std::string_view text, std::uint64_t& out);
// Integer followed by ms, s, m, h or d.
value_syntax read_duration(std::string_view text, duration& out);
// Integer bytes, optionally followed by KiB, MiB, GiB or TiB (IEC binary multiples).
value_syntax read_size(std::string_view text, std::uint64_t& out);

// host:port where host is a numeric IPv4 literal, a bracketed numeric IPv6 literal or
// "localhost", and port is 0-65535 (0: the kernel picks one). Returns "" or why it was refused.
// The stored host is canonical (inet_ntop form) and without brackets.
std::string read_listen(std::string_view text, listen_address& out);
// An http:// or https:// URL with a host. Returns "" or why it was refused.
std::string check_url(std::string_view text);

// `text` in double quotes for an error message: kept on one line (control characters and quotes
// escaped) and cut after 64 bytes, since it may be anything a file holds.
std::string quote(std::string_view text);

// Shortest exact form: 1500ms, 2s, 5m, 1h, 1d.
std::string format_duration(duration d);
// Shortest exact form: 1152, 64KiB, 16MiB, 1GiB.
std::string format_size(std::uint64_t bytes);
// "127.0.0.1:5683", "[::1]:5683".
std::string format_listen(const listen_address& a);

}  // namespace gw::conf
