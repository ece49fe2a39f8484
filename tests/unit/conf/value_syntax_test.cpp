#include "conf/value_syntax.hpp"

#include <catch2/catch.hpp>

#include <limits>

#include "conf/load.hpp"

namespace gw::conf {
namespace {

using namespace std::chrono_literals;

TEST_CASE("durations need an integer and a unit", "[conf][syntax]") {
  struct row {
    const char* text;
    duration value;
  };
  const row accepted[] = {{"500ms", 500ms}, {"2s", 2s},     {"5m", 5min},      {"1h", 1h},
                          {"1d", 24h},      {"0s", 0ms},    {"0ms", 0ms},      {"007s", 7s},
                          {"255s", 255s},   {"90m", 90min}, {"1500ms", 1500ms}};
  for (const row& r : accepted) {
    CAPTURE(r.text);
    duration d{-1};
    REQUIRE(parse_duration(r.text, d));
    CHECK(d == r.value);
  }

  const char* malformed[] = {"",     "s",   "ms",  "1.5s", "2 s",   " 2s",   "2s ",  "2S",
                             "2sec", "-1s", "+1s", "2ms2", "1h30m", "0x10s", "two s"};
  for (const char* text : malformed) {
    CAPTURE(text);
    duration d{};
    CHECK_FALSE(parse_duration(text, d));
    CHECK(read_duration(text, d) == value_syntax::malformed);
  }

  duration d{};
  CHECK(read_duration("500", d) == value_syntax::missing_unit);
  CHECK(read_duration("0", d) == value_syntax::missing_unit);
  CHECK(read_duration("99999999999999999999999", d) == value_syntax::missing_unit);
  CHECK_FALSE(parse_duration("500", d));
  // Past what milliseconds in 64 bits hold.
  CHECK(read_duration("9999999999999999999ms", d) == value_syntax::too_large);
  CHECK(read_duration("200000000000000d", d) == value_syntax::too_large);
  CHECK(read_duration("9223372036854775807ms", d) == value_syntax::ok);
  CHECK(d.count() == std::numeric_limits<duration::rep>::max());
}

TEST_CASE("sizes are bytes or IEC binary multiples", "[conf][syntax]") {
  struct row {
    const char* text;
    std::uint64_t value;
  };
  const row accepted[] = {{"0", 0},
                          {"1152", 1152},
                          {"64KiB", 64 * 1024},
                          {"16MiB", 16 * 1024 * 1024},
                          {"1GiB", 1ull << 30},
                          {"4GiB", 4ull << 30},
                          {"2TiB", 2ull << 40},
                          {"18446744073709551615", std::numeric_limits<std::uint64_t>::max()}};
  for (const row& r : accepted) {
    CAPTURE(r.text);
    std::uint64_t v = 1;
    REQUIRE(parse_size(r.text, v));
    CHECK(v == r.value);
  }
  const char* malformed[] = {"", "KiB", "64kib", "64KB", "64K", "64 KiB", "-1", "1.5MiB", "1e3"};
  for (const char* text : malformed) {
    CAPTURE(text);
    std::uint64_t v = 0;
    CHECK_FALSE(parse_size(text, v));
    CHECK(read_size(text, v) == value_syntax::malformed);
  }
  std::uint64_t v = 0;
  CHECK(read_size("18446744073709551616", v) == value_syntax::too_large);
  CHECK(read_size("16777216TiB", v) == value_syntax::too_large);
}

TEST_CASE("counts are plain decimal digits", "[conf][syntax]") {
  std::uint64_t v = 0;
  CHECK(read_count("256", v) == value_syntax::ok);
  CHECK(v == 256);
  CHECK(read_count("0", v) == value_syntax::ok);
  CHECK(v == 0);
  for (const char* text : {"", "-1", "+1", "1.0", "0x10", "1_000", "1e3", "12a"}) {
    CAPTURE(text);
    CHECK(read_count(text, v) == value_syntax::malformed);
  }
  CHECK(read_count("99999999999999999999", v) == value_syntax::too_large);
}

TEST_CASE("listen addresses are numeric literals or localhost, with a port", "[conf][syntax]") {
  struct row {
    const char* text;
    const char* host;
    std::uint16_t port;
  };
  const row accepted[] = {{"127.0.0.1:5683", "127.0.0.1", 5683}, {"0.0.0.0:5683", "0.0.0.0", 5683},
                          {"[::1]:5683", "::1", 5683},           {"[::]:5683", "::", 5683},
                          {"[0:0:0:0:0:0:0:1]:1", "::1", 1},  // stored in canonical form
                          {"[fe80::A]:5684", "fe80::a", 5684},   {"localhost:0", "localhost", 0},
                          {"10.1.2.3:65535", "10.1.2.3", 65535}};
  for (const row& r : accepted) {
    CAPTURE(r.text);
    listen_address a;
    REQUIRE(parse_listen(r.text, a));
    CHECK(a.host == r.host);
    CHECK(a.port == r.port);
  }

  struct refused {
    const char* text;
    const char* problem;
  };
  const refused rows[] = {
      {"127.0.0.1", "\"127.0.0.1\": expected host:port (e.g. 0.0.0.0:5683 or [::]:5683)"},
      {"", "\"\": expected host:port (e.g. 0.0.0.0:5683 or [::]:5683)"},
      {"127.0.0.1:", "\"127.0.0.1:\": port must be a number from 0 to 65535"},
      {"127.0.0.1:65536", "\"127.0.0.1:65536\": port must be a number from 0 to 65535"},
      {"127.0.0.1:-1", "\"127.0.0.1:-1\": port must be a number from 0 to 65535"},
      {"127.0.0.1:http", "\"127.0.0.1:http\": port must be a number from 0 to 65535"},
      {"example.com:5683",
       "\"example.com:5683\": host must be a numeric IPv4 or IPv6 address or localhost"},
      {"256.1.1.1:5683",
       "\"256.1.1.1:5683\": host must be a numeric IPv4 or IPv6 address or localhost"},
      {":5683", "\":5683\": host must be a numeric IPv4 or IPv6 address or localhost"},
      {"::1:5683",
       "\"::1:5683\": write an IPv6 address in brackets, followed by the port (e.g. [::1]:5683)"},
      {"[::1]",
       "\"[::1]\": write an IPv6 address in brackets, followed by the port (e.g. [::1]:5683)"},
      {"[127.0.0.1]:5683", "\"[127.0.0.1]:5683\": \"127.0.0.1\" is not a numeric IPv6 address"},
      {"[fe80::1%eth0]:5683",
       "\"[fe80::1%eth0]:5683\": \"fe80::1%eth0\" is not a numeric IPv6 address"},
  };
  for (const refused& r : rows) {
    CAPTURE(r.text);
    listen_address a;
    CHECK_FALSE(parse_listen(r.text, a));
    CHECK(read_listen(r.text, a) == r.problem);
  }
}

TEST_CASE("upstream URLs are http or https with a host", "[conf][syntax]") {
  for (const char* ok : {"https://m2.exosite.com", "http://127.0.0.1:8080", "http://localhost/",
                         "https://[::1]:8443/api", "http://onep-sim_1.local:1"}) {
    CAPTURE(ok);
    CHECK(check_url(ok).empty());
  }
  struct refused {
    const char* text;
    const char* problem;
  };
  const refused rows[] = {
      {"m2.exosite.com", "\"m2.exosite.com\": must start with http:// or https://"},
      {"ftp://h", "\"ftp://h\": must start with http:// or https://"},
      {"HTTP://h", "\"HTTP://h\": must start with http:// or https://"},
      {"http://", "\"http://\": has no host"},
      {"https:///path", "\"https:///path\": has no host"},
      {"http://:80", "\"http://:80\": has no host"},
      {"http://h:0", "\"http://h:0\": port must be a number from 1 to 65535"},
      {"http://h:", "\"http://h:\": port must be a number from 1 to 65535"},
      {"http://h:99999", "\"http://h:99999\": port must be a number from 1 to 65535"},
      {"http://u:p@h", "\"http://u:p@h\": user names and passwords in the URL are not supported"},
      {"http://h/?q=1", "\"http://h/?q=1\": a base URL cannot have a query or fragment"},
      {"http://h a", "\"http://h a\": a URL cannot contain spaces or control characters"},
      {"http://[::1", "\"http://[::1\": the bracketed host is not a numeric IPv6 address"},
      {"http://[::1]x", "\"http://[::1]x\": expected a port after the IPv6 address"},
      {"http://a[b/", "\"http://a[b/\": the host contains characters not allowed in a host name"},
  };
  for (const refused& r : rows) {
    CAPTURE(r.text);
    CHECK(check_url(r.text) == r.problem);
  }
}

TEST_CASE("values format back in their shortest exact form", "[conf][syntax]") {
  CHECK(format_duration(duration{0}) == "0s");
  CHECK(format_duration(duration{1500}) == "1500ms");
  CHECK(format_duration(duration{2000}) == "2s");
  CHECK(format_duration(duration{60000}) == "1m");
  CHECK(format_duration(duration{255000}) == "255s");
  CHECK(format_duration(duration{86400000}) == "1d");
  CHECK(format_size(0) == "0");
  CHECK(format_size(1152) == "1152");
  CHECK(format_size(65536) == "64KiB");
  CHECK(format_size(16 * 1024 * 1024) == "16MiB");
  CHECK(format_size(1ull << 30) == "1GiB");
  CHECK(format_listen({"::", 5683}) == "[::]:5683");
  CHECK(format_listen({"127.0.0.1", 0}) == "127.0.0.1:0");

  // Whatever is formatted reads back to the same value.
  for (duration::rep ms : {0LL, 1LL, 999LL, 1000LL, 61000LL, 3600000LL, 90061001LL}) {
    duration d{};
    REQUIRE(parse_duration(format_duration(duration{ms}), d));
    CHECK(d.count() == ms);
  }
  for (std::uint64_t bytes : {1ull, 1023ull, 1024ull, 1025ull, 3ull << 20, 5ull << 40}) {
    std::uint64_t v = 0;
    REQUIRE(parse_size(format_size(bytes), v));
    CHECK(v == bytes);
  }
}

}  // namespace
}  // namespace gw::conf
