// Every kind of refusal, with the exact text a user sees from --check-config.
#include <catch2/catch.hpp>

#include "conf/load.hpp"

namespace gw::conf {
namespace {

std::vector<std::string> errors_of(std::string_view yaml) {
  load_result r = load_string(yaml, "gw.yaml");
  std::vector<std::string> out;
  if (!r.ok()) {
    for (const config_error& e : r.errors()) out.push_back(e.to_string());
  }
  return out;
}

using lines = std::vector<std::string>;

const std::string duration_kind = "a duration with ms, s, m, h or d (e.g. 500ms, 2s, 5m)";

TEST_CASE("config_error::to_string has one shape per kind of error", "[conf][errors]") {
  CHECK((config_error{"a.yaml", 3, "coap.ack_timeout", "bad"}).to_string() ==
        "a.yaml:3: coap.ack_timeout: bad");
  CHECK((config_error{"a.yaml", 3, "", "bad"}).to_string() == "a.yaml:3: bad");
  CHECK((config_error{"a.yaml", 0, "", "cannot read: gone"}).to_string() ==
        "a.yaml: cannot read: gone");
}

TEST_CASE("unknown keys are refused at every level", "[conf][errors]") {
  CHECK(errors_of("coapp:\n  ack_timeout: 2s\n") ==
        lines{"gw.yaml:1: coapp: unknown key (did you mean \"coap\"?)"});
  CHECK(errors_of("workers: 1\ncoap:\n  ack_timout: 2s\n") ==
        lines{"gw.yaml:3: coap.ack_timout: unknown key (did you mean \"ack_timeout\"?)"});
  CHECK(errors_of("upstream:\n  tls:\n    verfy: true\n    pin: abc\n") ==
        lines{"gw.yaml:3: upstream.tls.verfy: unknown key (did you mean \"verify\"?)",
              "gw.yaml:4: upstream.tls.pin: unknown key"});
  // A known key under the wrong section is still unknown there.
  CHECK(errors_of("log:\n  ack_timeout: 2s\n") == lines{"gw.yaml:2: log.ack_timeout: unknown key"});
  CHECK(errors_of("coap.ack_timeout: 2s\n") ==
        lines{"gw.yaml:1: coap.ack_timeout: unknown key (nest sections as maps instead of "
              "writing dotted names)"});
  CHECK(errors_of("? [a, b]\n: 1\n") == lines{"gw.yaml:1: keys must be plain names, got a list"});
  // Names the user made up are quoted when they could garble the message.
  CHECK(errors_of("log:\n  \"a b\\n\": 1\n") == lines{"gw.yaml:2: log.\"a b\\x0a\": unknown key"});
}

TEST_CASE("values quoted in messages stay on one line and short", "[conf][errors]") {
  CHECK(errors_of("workers: \"1\\t2\"\n") ==
        lines{"gw.yaml:1: workers: expected a whole number, got \"1\\x092\""});
  CHECK(errors_of("workers: |\n  1\n  2\n") ==
        lines{"gw.yaml:1: workers: expected a whole number, got \"1\\x0a2\\x0a\""});
  CHECK(errors_of("workers: " + std::string(100, 'x') + "\n") ==
        lines{"gw.yaml:1: workers: expected a whole number, got \"" + std::string(64, 'x') +
              "\"..."});
}

TEST_CASE("a key given twice is refused on the second line", "[conf][errors]") {
  CHECK(errors_of("workers: 1\nworkers: 2\n") ==
        lines{"gw.yaml:2: workers: duplicate key (first set on line 1)"});
  CHECK(errors_of("coap:\n  ack_timeout: 2s\nlog:\n  level: info\ncoap:\n  max_retransmit: 2\n") ==
        lines{"gw.yaml:5: coap: duplicate key (first set on line 1)"});
}

TEST_CASE("values of the wrong YAML type are refused", "[conf][errors]") {
  CHECK(errors_of("coap:\n  ack_timeout:\n    value: 2s\n") ==
        lines{"gw.yaml:2: coap.ack_timeout: expected " + duration_kind + ", got a map"});
  CHECK(errors_of("upstream:\n  timeout:\n") ==
        lines{"gw.yaml:2: upstream.timeout: expected " + duration_kind + ", got nothing"});
  CHECK(errors_of("workers: [1, 2]\n") ==
        lines{"gw.yaml:1: workers: expected a whole number, got a list"});
  CHECK(errors_of("coap:\n  listen: 0.0.0.0:5683\n") ==
        lines{"gw.yaml:2: coap.listen: expected a list of host:port addresses, got "
              "\"0.0.0.0:5683\""});
  CHECK(errors_of("coap:\n  listen:\n") ==
        lines{"gw.yaml:2: coap.listen: expected a list of host:port addresses, got nothing"});
  CHECK(errors_of("coap:\n  listen: {a: 1}\n") ==
        lines{"gw.yaml:2: coap.listen: expected a list of host:port addresses, got a map"});
  CHECK(errors_of("coap: 5\n") ==
        lines{"gw.yaml:1: coap: expected a map of coap.* keys, got \"5\""});
  CHECK(errors_of("upstream:\n  tls: [a]\n") ==
        lines{"gw.yaml:2: upstream.tls: expected a map of upstream.tls.* keys, got a list"});
  CHECK(errors_of("hello\n") ==
        lines{"gw.yaml:1: expected a map of keys at the top level, got \"hello\""});
  CHECK(errors_of("\n- workers\n") ==
        lines{"gw.yaml:2: expected a map of keys at the top level, got a list"});
}

TEST_CASE("text that is not the expected value is refused", "[conf][errors]") {
  CHECK(errors_of("workers: four\n") ==
        lines{"gw.yaml:1: workers: expected a whole number, got \"four\""});
  CHECK(errors_of("workers: 2.5\n") ==
        lines{"gw.yaml:1: workers: expected a whole number, got \"2.5\""});
  CHECK(errors_of("coap:\n  dedup_cache_bytes: 16MB\n") ==
        lines{"gw.yaml:2: coap.dedup_cache_bytes: expected a size in bytes, or with KiB, MiB or "
              "GiB (e.g. 1152, 64KiB), got \"16MB\""});
  CHECK(errors_of("coap:\n  ack_random_factor: fast\n") ==
        lines{"gw.yaml:2: coap.ack_random_factor: expected a number, got \"fast\""});
  CHECK(errors_of("coap:\n  ack_random_factor: .nan\n") ==
        lines{"gw.yaml:2: coap.ack_random_factor: expected a number, got \".nan\""});
  CHECK(errors_of("upstream:\n  timeout: 500\n") ==
        lines{"gw.yaml:2: upstream.timeout: \"500\" has no unit; write ms, s, m, h or d after the "
              "number (e.g. 500ms, 2s)"});
  CHECK(errors_of("upstream:\n  timeout: 1.5s\n") ==
        lines{"gw.yaml:2: upstream.timeout: expected " + duration_kind + ", got \"1.5s\""});
  CHECK(errors_of("log:\n  level: verbose\n") ==
        lines{"gw.yaml:2: log.level: expected one of trace, debug, info, warn, error, got "
              "\"verbose\""});
  CHECK(errors_of("log:\n  format: JSON\n") ==
        lines{"gw.yaml:2: log.format: expected one of text, json, got \"JSON\""});
  CHECK(errors_of("timestamp:\n  source: ntp\n") ==
        lines{"gw.yaml:2: timestamp.source: expected one of upstream, local, got \"ntp\""});
  CHECK(errors_of("log:\n  access: yes\n") ==
        lines{"gw.yaml:2: log.access: expected true or false, got \"yes\""});
  CHECK(errors_of("upstream:\n  url: m2.exosite.com\n") ==
        lines{"gw.yaml:2: upstream.url: \"m2.exosite.com\": must start with http:// or https://"});
  CHECK(errors_of("upstream:\n  url: https://\n") ==
        lines{"gw.yaml:2: upstream.url: \"https://\": has no host"});
  CHECK(errors_of("metrics:\n  listen: example.com:9100\n") ==
        lines{"gw.yaml:2: metrics.listen: \"example.com:9100\": host must be a numeric IPv4 or "
              "IPv6 address or localhost"});
}

TEST_CASE("values outside the allowed range are refused with the range", "[conf][errors]") {
  CHECK(errors_of("workers: 257\n") == lines{"gw.yaml:1: workers: 257 is out of range (0 to 256)"});
  CHECK(errors_of("workers: -1\n") == lines{"gw.yaml:1: workers: -1 is out of range (0 to 256)"});
  CHECK(errors_of("workers: 99999999999999999999999\n") ==
        lines{"gw.yaml:1: workers: 99999999999999999999999 is out of range (0 to 256)"});
  CHECK(errors_of("coap:\n  ack_timeout: 50ms\n") ==
        lines{"gw.yaml:2: coap.ack_timeout: 50ms is out of range (100ms to 1m)"});
  CHECK(errors_of("coap:\n  ack_timeout: -2s\n") ==
        lines{"gw.yaml:2: coap.ack_timeout: -2s is out of range (100ms to 1m)"});
  CHECK(errors_of("coap:\n  ack_random_factor: 0.5\n") ==
        lines{"gw.yaml:2: coap.ack_random_factor: 0.5 is out of range (1.0 to 4.0)"});
  CHECK(errors_of("coap:\n  dedup_cache_bytes: 32KiB\n") ==
        lines{"gw.yaml:2: coap.dedup_cache_bytes: 32KiB is out of range (64KiB to 4GiB)"});
  CHECK(errors_of("coap:\n  max_message_size: 65508\n") ==
        lines{"gw.yaml:2: coap.max_message_size: 65508 is out of range (64 to 65507)"});
  CHECK(errors_of("coap:\n  block_size: 2048\n") ==
        lines{"gw.yaml:2: coap.block_size: 2048 is out of range (16 to 1024)"});
  CHECK(errors_of("observe:\n  max_age: 256s\n") ==
        lines{"gw.yaml:2: observe.max_age: 256s is out of range (1s to 255s)"});
  CHECK(errors_of("alias_cache:\n  ttl: 25h\n") ==
        lines{"gw.yaml:2: alias_cache.ttl: 25h is out of range (0s to 1d)"});
  CHECK(errors_of("upstream:\n  timeout: 99999999999999999999d\n") ==
        lines{"gw.yaml:2: upstream.timeout: 99999999999999999999d is out of range (100ms to 10m)"});
}

TEST_CASE("the replay window of reads is at most ACK_TIMEOUT", "[conf][errors]") {
  CHECK(errors_of("coap:\n  replay_window: 2s\n").empty());
  CHECK(errors_of("coap:\n  replay_window: 3s\n") ==
        lines{"gw.yaml:2: coap.replay_window: must be at most coap.ack_timeout (2s): a safe "
              "request is cached only to absorb a burst of copies, not to serve stale values"});
  CHECK(errors_of("coap:\n  ack_timeout: 5s\n  replay_window: 3s\n").empty());
  // The default is lowered to a smaller ack_timeout rather than refused.
  CHECK(errors_of("coap:\n  ack_timeout: 500ms\n  separate_response_after: 400ms\n").empty());
  CHECK(errors_of("coap:\n  dedup_window: 500ms\n") ==
        lines{"gw.yaml:2: coap.dedup_window: 500ms is out of range (1s to 1h)"});
}

TEST_CASE("rules beyond a range: block sizes and whole-second Max-Age", "[conf][errors]") {
  CHECK(errors_of("coap:\n  block_size: 100\n") ==
        lines{"gw.yaml:2: coap.block_size: must be one of 16, 32, 64, 128, 256, 512, 1024 (RFC "
              "7959 §2.2)"});
  CHECK(errors_of("observe:\n  max_age: 1500ms\n") ==
        lines{"gw.yaml:2: observe.max_age: must be whole seconds: Max-Age is sent in seconds (RFC "
              "7252 §5.10.5)"});
  CHECK(errors_of("observe:\n  max_age: 2000ms\n").empty());
}

TEST_CASE("coap.listen items are checked one by one, on their own lines", "[conf][errors]") {
  CHECK(errors_of("coap:\n"
                  "  listen:\n"
                  "    - 127.0.0.1:5683\n"
                  "    - example.com:5683\n"
                  "    # a comment line\n"
                  "    - \"[::1]:99999\"\n") ==
        lines{"gw.yaml:4: coap.listen[1]: \"example.com:5683\": host must be a numeric IPv4 or "
              "IPv6 address or localhost",
              "gw.yaml:6: coap.listen[2]: \"[::1]:99999\": port must be a number from 0 to 65535"});
  CHECK(errors_of("coap:\n  listen:\n    - 127.0.0.1:5683\n    - 127.0.0.1:5683\n") ==
        lines{"gw.yaml:4: coap.listen[1]: same address as coap.listen[0]"});
  CHECK(errors_of("coap:\n  listen: ['[::]:1', '[0::0]:1']\n") ==
        lines{"gw.yaml:2: coap.listen[1]: same address as coap.listen[0]"});
  CHECK(errors_of("coap:\n  listen:\n    - [a, b]\n") ==
        lines{"gw.yaml:3: coap.listen[0]: expected host:port, got a list"});
  CHECK(errors_of("coap:\n  listen: []\n") ==
        lines{"gw.yaml:2: coap.listen: needs at least one address"});
}

TEST_CASE("YAML syntax errors carry the parser's line and no key", "[conf][errors]") {
  CHECK(errors_of("coap:\n  listen: [\"1.2.3.4:5\"\nworkers: 2\n") ==
        lines{"gw.yaml:3: end of sequence flow not found"});
  CHECK(errors_of("coap:\n\tack_timeout: 2s\n") == lines{"gw.yaml:2: illegal map value"});
  // Reported on the line of the second document's "---".
  CHECK(errors_of("workers: 1\n---\nworkers: 2\n") ==
        lines{"gw.yaml:2: only one YAML document is allowed"});
}

TEST_CASE("a stream the parser cannot get through is refused, not looped on", "[conf][errors]") {
  // yaml-cpp's LoadAll never returns on these (yaml-cpp issue #1040).
  const std::string problem = "not valid YAML (the parser cannot get past this line)";
  CHECK(errors_of(",") == lines{"gw.yaml:1: " + problem});
  CHECK(errors_of("# header\n&a,\n") == lines{"gw.yaml:2: " + problem});
  CHECK(errors_of("workers: 1\n---\n,\n") == lines{"gw.yaml:2: only one YAML document is allowed"});
}

TEST_CASE("an unquoted IPv6 listen address gets a hint on its line", "[conf][errors]") {
  CHECK(errors_of("coap:\n  listen:\n    - [::1]:5683\n    - 0.0.0.0:5683\n") ==
        lines{"gw.yaml:3: end of sequence not found",
              "gw.yaml:3: quote IPv6 addresses, as in \"[::1]:5683\": YAML reads [ as a list"});
  CHECK(errors_of("metrics:\n  listen: [::1]:9100\nworkers: 1\n") ==
        lines{"gw.yaml:2: end of map not found",
              "gw.yaml:2: quote IPv6 addresses, as in \"[::1]:5683\": YAML reads [ as a list"});
}

TEST_CASE("every error of a file is reported, in line order", "[conf][errors]") {
  CHECK(errors_of("workers: 1000\n"
                  "log:\n"
                  "  level: loud\n"
                  "  colour: true\n"
                  "coap:\n"
                  "  listen:\n"
                  "    - nowhere:1\n"
                  "  ack_timeout: 2s\n"
                  "  max_retransmit: 50\n"
                  "upstream:\n"
                  "  url: https://m2.exosite.com\n"
                  "  tls:\n"
                  "    verify: maybe\n"
                  "observe:\n"
                  "  max_age: 10m\n") ==
        lines{"gw.yaml:1: workers: 1000 is out of range (0 to 256)",
              "gw.yaml:3: log.level: expected one of trace, debug, info, warn, error, got \"loud\"",
              "gw.yaml:4: log.colour: unknown key",
              "gw.yaml:7: coap.listen[0]: \"nowhere:1\": host must be a numeric IPv4 or IPv6 "
              "address or localhost",
              "gw.yaml:9: coap.max_retransmit: 50 is out of range (0 to 20)",
              "gw.yaml:13: upstream.tls.verify: expected true or false, got \"maybe\"",
              "gw.yaml:15: observe.max_age: 10m is out of range (1s to 255s)"});
}

TEST_CASE("separate_response_after must stay below ack_timeout", "[conf][errors][cross]") {
  const std::string why = ", or the empty ACK would come after the client's first retransmission";
  // Reported on separate_response_after's line, wherever ack_timeout is.
  CHECK(
      errors_of("coap:\n  ack_timeout: 1s\n  separate_response_after: 1s\n") ==
      lines{"gw.yaml:3: coap.separate_response_after: must be below coap.ack_timeout (1s)" + why});
  CHECK(errors_of("coap:\n  separate_response_after: 3s\n  ack_timeout: 2500ms\n") ==
        lines{"gw.yaml:2: coap.separate_response_after: must be below coap.ack_timeout "
              "(2500ms)" +
              why});
  CHECK(
      errors_of("coap:\n  separate_response_after: 2s\n") ==
      lines{"gw.yaml:2: coap.separate_response_after: must be below coap.ack_timeout (2s)" + why});
  // Only ack_timeout set: the default separate_response_after is what breaks the rule.
  CHECK(errors_of("coap:\n  max_retransmit: 4\n  ack_timeout: 500ms\n") ==
        lines{"gw.yaml:3: coap.ack_timeout: coap.separate_response_after (default 1s) must be "
              "below coap.ack_timeout (500ms)" +
              why});
  // A refused ack_timeout is reported once, not again as a conflict.
  CHECK(errors_of("coap:\n  ack_timeout: 50ms\n  separate_response_after: 1s\n") ==
        lines{"gw.yaml:2: coap.ack_timeout: 50ms is out of range (100ms to 1m)"});
  CHECK(errors_of("coap:\n  ack_timeout: 500ms\n  separate_response_after: 400ms\n").empty());
  CHECK(errors_of("coap:\n  ack_timeout: 100ms\n  separate_response_after: 0s\n").empty());
}

}  // namespace
}  // namespace gw::conf

namespace gw::conf {
namespace {

TEST_CASE("coap.dtls: an empty listen list is off, a listener needs credentials",
          "[conf][errors][dtls]") {
  CHECK(errors_of("coap:\n  dtls:\n    listen: []\n").empty());
  CHECK(errors_of("coap:\n  listen: []\n") ==
        lines{"gw.yaml:2: coap.listen: needs at least one address"});
  CHECK(errors_of("coap:\n  dtls:\n    listen: [\"127.0.0.1:5684\"]\n") ==
        lines{"gw.yaml:3: coap.dtls.listen: needs coap.dtls.psk_file or coap.dtls.cert_file: a "
              "handshake has nothing to agree on"});
  CHECK(errors_of("coap:\n  dtls:\n    listen: [\"127.0.0.1:5684\"]\n    psk_file: /etc/k\n")
            .empty());
  CHECK(errors_of("coap:\n  dtls:\n    cert_file: /etc/c.pem\n") ==
        lines{"gw.yaml:3: coap.dtls.cert_file: coap.dtls.cert_file and coap.dtls.key_file go "
              "together"});
  load_result r = load_string(
      "coap:\n  dtls:\n    listen: [\"[::1]:0\", \"127.0.0.1:5684\"]\n    psk_file: k\n"
      "    idle_timeout: 30s\n",
      "gw.yaml");
  REQUIRE(r.ok());
  CHECK(r.get().coap.dtls.listen == std::vector<listen_address>{{"::1", 0}, {"127.0.0.1", 5684}});
  CHECK(r.get().coap.dtls.idle_timeout == std::chrono::seconds(30));
}

}  // namespace

TEST_CASE("coap.trusted_proxies takes addresses and prefixes only", "[conf][errors]") {
  CHECK(errors_of("coap:\n  trusted_proxies: \"10.0.0.5, 192.0.2.0/24, 2001:db8::/32\"\n").empty());
  CHECK(errors_of("coap:\n  trusted_proxies: \"10.0.0.5, 10.0.0.0/40\"\n") ==
        lines{"gw.yaml:2: coap.trusted_proxies: \"10.0.0.0/40\" is not an address or "
              "address/prefix-length"});
  CHECK(errors_of("limits:\n  per_address:\n    enabled: false\n    rate: 10\n").empty());
}

}  // namespace gw::conf
