#include "conf/load.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <unistd.h>

#include "conf/schema.hpp"

namespace gw::conf {
namespace {

using namespace std::chrono_literals;

config load_ok(std::string_view yaml) {
  load_result r = load_string(yaml, "gw.yaml");
  if (!r.ok()) {
    for (const config_error& e : r.errors()) UNSCOPED_INFO(e.to_string());
  }
  REQUIRE(r.ok());
  return r.get();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A file in the build's working directory, removed at the end of the test.
struct temp_file {
  explicit temp_file(std::string_view content) {
    path = (std::filesystem::temp_directory_path() /
            ("gw-conf-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter)))
               .string();
    std::ofstream(path, std::ios::binary) << content;
  }
  ~temp_file() { std::filesystem::remove(path); }
  std::string path;
  static inline int counter = 0;
};

TEST_CASE("an empty file, a comment or an empty document is the default config", "[conf]") {
  const config defaults;
  CHECK(load_ok("") == defaults);
  CHECK(load_ok("# nothing here\n\n") == defaults);
  CHECK(load_ok("---\n") == defaults);
  CHECK(load_ok("---\n...\n") == defaults);
}

TEST_CASE("defaults match the documented values", "[conf]") {
  const config c;
  CHECK(c.workers == 0);
  CHECK(c.coap.listen == std::vector<listen_address>{{"0.0.0.0", 5683}, {"::", 5683}});
  CHECK(c.coap.separate_response_after < c.coap.ack_timeout);
  CHECK(c.observe.max_age == 120s);
  CHECK(c.upstream.url == "https://m2.exosite.com");
  CHECK(c.log.level == "info");
}

TEST_CASE("restart keys: observations kept under the unit's StateDirectory by default", "[conf]") {
  const config c;
  CHECK(c.shutdown.observers == "keep");
  CHECK(c.state.directory == "/var/lib/coap-gateway");
  auto read = load_ok("shutdown:\n  observers: end\nstate:\n  directory: /srv/gw\n");
  CHECK(read.shutdown.observers == "end");
  CHECK(read.state.directory == "/srv/gw");
  CHECK_FALSE(load_string("shutdown:\n  observers: maybe\n", "gw.yaml").ok());
}

TEST_CASE("every key is read into its field", "[conf]") {
  const config c = load_ok(R"(
workers: 4
log:
  level: debug
  format: json
  access: true
coap:
  listen: ["127.0.0.1:0", "[::1]:5684", "localhost:5685"]
  max_message_size: 2KiB
  separate_response_after: 500ms
  ack_timeout: 3s
  ack_random_factor: 2.25
  max_retransmit: 0
  dedup_cache_bytes: 1GiB
  replay_window: 3s
  dedup_window: 30s
  block_size: 256
upstream:
  url: http://127.0.0.1:8080/base
  timeout: 2m
  connect_timeout: 750ms
  connections: 2
  queue: 0
  idle_timeout: 1h
  tls:
    verify: false
    ca_file: /etc/ssl/ca.pem
    cert_file: client.pem
    key_file: client.key
alias_cache:
  ttl: 0s
  negative_ttl: 1d
  max_entries: 0
timestamp:
  source: local
block:
  max_body: 1MiB
  store_bytes: 0
  max_transfers: 1
  max_transfers_per_client: 10000
observe:
  max_age: 255s
  poll_timeout: 5m
  max_observers: 10
  max_observers_per_client: 0
  max_resources: 100000
download:
  cache_bytes: 5MiB
metrics:
  listen: "[::]:9100"
shutdown:
  grace: 0s
)");
  CHECK(c.workers == 4);
  CHECK(c.log.level == "debug");
  CHECK(c.log.format == "json");
  CHECK(c.log.access);
  CHECK(c.coap.listen ==
        std::vector<listen_address>{{"127.0.0.1", 0}, {"::1", 5684}, {"localhost", 5685}});
  CHECK(c.coap.max_message_size == 2048);
  CHECK(c.coap.separate_response_after == 500ms);
  CHECK(c.coap.ack_timeout == 3s);
  CHECK(c.coap.ack_random_factor == 2.25);
  CHECK(c.coap.max_retransmit == 0);
  CHECK(c.coap.dedup_cache_bytes == 1ull << 30);
  CHECK(c.coap.replay_window == 3s);
  CHECK(c.coap.dedup_window == 30s);
  CHECK(c.coap.block_size == 256);
  CHECK(c.upstream.url == "http://127.0.0.1:8080/base");
  CHECK(c.upstream.timeout == 2min);
  CHECK(c.upstream.connect_timeout == 750ms);
  CHECK(c.upstream.connections == 2);
  CHECK(c.upstream.queue == 0);
  CHECK(c.upstream.idle_timeout == 1h);
  CHECK_FALSE(c.upstream.tls.verify);
  CHECK(c.upstream.tls.ca_file == "/etc/ssl/ca.pem");
  CHECK(c.upstream.tls.cert_file == "client.pem");
  CHECK(c.upstream.tls.key_file == "client.key");
  CHECK(c.alias_cache.ttl == 0ms);
  CHECK(c.alias_cache.negative_ttl == 24h);
  CHECK(c.alias_cache.max_entries == 0);
  CHECK(c.timestamp.source == "local");
  CHECK(c.block.max_body == 1024 * 1024);
  CHECK(c.block.store_bytes == 0);
  CHECK(c.download.cache_bytes == 5 * 1024 * 1024);
  CHECK(c.block.max_transfers == 1);
  CHECK(c.block.max_transfers_per_client == 10000);
  CHECK(c.observe.max_age == 255s);
  CHECK(c.observe.poll_timeout == 300s);
  CHECK(c.observe.max_observers == 10);
  CHECK(c.observe.max_observers_per_client == 0);
  CHECK(c.observe.max_resources == 100000);
  CHECK(c.metrics.listen == "[::]:9100");
  CHECK(c.shutdown.grace == 0ms);
}

TEST_CASE("a key left out keeps its default, its siblings are still read", "[conf]") {
  config expected;
  expected.coap.ack_timeout = 5s;
  expected.upstream.tls.verify = false;
  CHECK(load_ok("coap:\n  ack_timeout: 5s\nupstream:\n  tls:\n    verify: false\n") == expected);
}

TEST_CASE("a section with every key commented out keeps its defaults", "[conf]") {
  CHECK(load_ok("coap:\n  # ack_timeout: 5s\nupstream:\n  tls:\nlog:\n") == config{});
}

TEST_CASE("empty-means-off strings accept an empty value", "[conf]") {
  config c = load_ok("metrics:\n  listen:\nupstream:\n  tls:\n    ca_file:\n");
  CHECK(c.metrics.listen.empty());
  CHECK(c.upstream.tls.ca_file.empty());
  c = load_ok("metrics:\n  listen: \"\"\n");
  CHECK(c.metrics.listen.empty());
  c = load_ok("metrics:\n  listen: 127.0.0.1:9100\n");
  CHECK(c.metrics.listen == "127.0.0.1:9100");
}

TEST_CASE("YAML flow style, quoting and anchors read the same", "[conf]") {
  config expected;
  expected.coap.listen = {{"127.0.0.1", 5683}};
  expected.coap.ack_timeout = 3s;
  expected.workers = 2;
  CHECK(load_ok("coap: {listen: ['127.0.0.1:5683'], ack_timeout: \"3s\"}\nworkers: '2'\n") ==
        expected);

  config c = load_ok(
      "upstream:\n  timeout: &t 20s\n  tls: {verify: TRUE}\nobserve:\n  poll_timeout: *t\n");
  CHECK(c.upstream.timeout == 20s);
  CHECK(c.observe.poll_timeout == 20s);
  CHECK(c.upstream.tls.verify);
  CHECK(load_ok("log:\n  access: True\n").log.access);
  CHECK_FALSE(load_ok("log:\n  access: FALSE\n").log.access);
}

TEST_CASE("the example config loads to exactly the defaults", "[conf][example]") {
  load_result r = load_file(GW_EXAMPLE_CONFIG);
  if (!r.ok()) {
    for (const config_error& e : r.errors()) UNSCOPED_INFO(e.to_string());
  }
  REQUIRE(r.ok());
  CHECK(r.get() == config{});
}

TEST_CASE("the example config names every key of the schema", "[conf][example]") {
  // Rebuild dotted paths from indentation; list items and comments carry no keys.
  std::set<std::string> in_file;
  std::vector<std::pair<std::size_t, std::string>> open;  // indent, path of open sections
  std::istringstream lines(read_text(GW_EXAMPLE_CONFIG));
  for (std::string line; std::getline(lines, line);) {
    std::size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos || line[indent] == '#' || line[indent] == '-') continue;
    std::size_t colon = line.find(':');
    REQUIRE(colon != std::string::npos);
    while (!open.empty() && open.back().first >= indent) open.pop_back();
    std::string name = line.substr(indent, colon - indent);
    std::string path = open.empty() ? name : open.back().second + "." + name;
    if (is_section(path)) {
      open.emplace_back(indent, path);
    } else {
      in_file.insert(path);
    }
  }
  std::set<std::string> in_schema;
  for (const key_spec& k : schema()) in_schema.insert(std::string(k.path));
  CHECK(in_file == in_schema);
}

TEST_CASE("load_file names the file in errors and reads it whole", "[conf]") {
  temp_file good("workers: 3\n");
  load_result r = load_file(good.path);
  REQUIRE(r.ok());
  CHECK(r.get().workers == 3);

  temp_file bad("# comment\nworkers: lots\n");
  r = load_file(bad.path);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.errors().size() == 1);
  CHECK(r.errors()[0].to_string() ==
        bad.path + ":2: workers: expected a whole number, got \"lots\"");
}

TEST_CASE("an unreadable file is reported on line 0 with the reason", "[conf]") {
  const std::string missing = "/nonexistent/gw-conf-test/gateway.yaml";
  load_result r = load_file(missing);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.errors().size() == 1);
  const config_error& e = r.errors()[0];
  CHECK(e.file == missing);
  CHECK(e.line == 0);
  CHECK(e.key.empty());
  CHECK(e.to_string() == missing + ": cannot read: No such file or directory");

  r = load_file("/");
  REQUIRE_FALSE(r.ok());
  CHECK(r.errors()[0].to_string() == "/: cannot read: Is a directory");

  temp_file huge(std::string(1024 * 1024 + 1, '#'));
  r = load_file(huge.path);
  REQUIRE_FALSE(r.ok());
  CHECK(r.errors()[0].to_string() == huge.path + ": cannot read: larger than 1MiB");
}

}  // namespace
}  // namespace gw::conf

namespace gw::conf {
namespace {

TEST_CASE("old key names are read for one release, with a warning naming the new keys", "[conf]") {
  auto r = load_string("block:\n  cache_bytes: 1MiB\nobserve:\n  max_polls: 7\n", "gw.yaml");
  REQUIRE(r.ok());
  // block.cache_bytes bounded both stores: its value goes to both new keys.
  CHECK(r.get().block.store_bytes == 1024 * 1024);
  CHECK(r.get().download.cache_bytes == 1024 * 1024);
  CHECK(r.get().observe.max_resources == 7);
  REQUIRE(r.warnings.size() == 2);
  CHECK(r.warnings[0].to_string().starts_with(
      "gw.yaml:2: block.cache_bytes: renamed to block.store_bytes and download.cache_bytes"));
  CHECK(r.warnings[1].to_string().starts_with(
      "gw.yaml:4: observe.max_polls: renamed to observe.max_resources"));
}

TEST_CASE("a new key set in the same file wins over the old name", "[conf]") {
  auto r = load_string("block:\n  store_bytes: 2MiB\n  cache_bytes: 1MiB\n", "gw.yaml");
  REQUIRE(r.ok());
  CHECK(r.get().block.store_bytes == 2 * 1024 * 1024);
  CHECK(r.get().download.cache_bytes == 1024 * 1024);
  CHECK(r.warnings.size() == 1);
}

TEST_CASE("an old name with a bad value is refused on its own line", "[conf]") {
  auto r = load_string("observe:\n  max_polls: 0\n", "gw.yaml");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.errors().size() == 1);
  CHECK(r.errors()[0].line == 2);
  CHECK(r.errors()[0].key == "observe.max_resources");
}

TEST_CASE("a file without old names has no warnings", "[conf]") {
  CHECK(load_string("observe:\n  max_resources: 3\n").warnings.empty());
}

TEST_CASE("socket buffer sizes: 4 MiB by default, sizes with units, 0 for the system's", "[conf]") {
  const config defaults;
  CHECK(defaults.coap.socket_receive_buffer == 4u * 1024 * 1024);
  CHECK(defaults.coap.socket_send_buffer == 4u * 1024 * 1024);
  auto c = load_ok("coap:\n  socket_receive_buffer: 16MiB\n  socket_send_buffer: 0\n");
  CHECK(c.coap.socket_receive_buffer == 16u * 1024 * 1024);
  CHECK(c.coap.socket_send_buffer == 0u);
  CHECK_FALSE(load_string("coap:\n  socket_receive_buffer: 2GiB\n", "gw.yaml").ok());
}

}  // namespace
}  // namespace gw::conf
