#include "upstream/base_url.hpp"

#include <catch2/catch.hpp>

#include "upstream/error.hpp"

using gw::upstream::parse_base_url;

TEST_CASE("base URLs that parse", "[upstream][base_url]") {
  struct row {
    const char* text;
    bool tls;
    const char* host;
    unsigned port;
    const char* prefix;
    const char* host_field;
  };
  const row rows[] = {
      {"http://127.0.0.1:8080", false, "127.0.0.1", 8080, "", "127.0.0.1:8080"},
      {"https://m2.exosite.com", true, "m2.exosite.com", 443, "", "m2.exosite.com"},
      {"https://m2.exosite.com/", true, "m2.exosite.com", 443, "", "m2.exosite.com"},
      {"HTTPS://m2.exosite.com:443", true, "m2.exosite.com", 443, "", "m2.exosite.com"},
      {"http://m2.exosite.com:80/onep", false, "m2.exosite.com", 80, "/onep", "m2.exosite.com"},
      {"http://host:443", false, "host", 443, "", "host:443"},
      {"https://host:80", true, "host", 80, "", "host:80"},
      {"https://gw.example:8443/api/v1/", true, "gw.example", 8443, "/api/v1", "gw.example:8443"},
      {"http://[::1]:8080/p", false, "::1", 8080, "/p", "[::1]:8080"},
      {"https://[2001:db8::1]", true, "2001:db8::1", 443, "", "[2001:db8::1]"},
      {"http://under_score-host.local:1", false, "under_score-host.local", 1, "",
       "under_score-host.local:1"},
      {"http://h:65535/a%20b", false, "h", 65535, "/a%20b", "h:65535"},
  };
  for (const auto& r : rows) {
    INFO(r.text);
    const auto url = parse_base_url(r.text);
    REQUIRE(url.has_value());
    CHECK(url->tls == r.tls);
    CHECK(url->host == r.host);
    CHECK(url->port == r.port);
    CHECK(url->prefix == r.prefix);
    CHECK(url->host_field() == r.host_field);
  }
}

TEST_CASE("base URLs that are refused", "[upstream][base_url]") {
  const char* rows[] = {
      "",
      "m2.exosite.com",
      "ftp://m2.exosite.com",
      "coap://127.0.0.1",
      "http:/host",
      "http://",
      "http:///path",
      "http://:8080",
      "http://host:",
      "http://host:0",
      "http://host:65536",
      "http://host:99999999",
      "http://host:80a",
      "http://host:-1",
      "http://user@host",
      "http://user:pw@host:80",
      "http://ho st",
      "http://host/a b",
      "http://host/path?query",
      "http://host?query",
      "http://host/#fragment",
      "http://host/\r\n",
      "http://[::1",
      "http://[::1]x",
      "http://[not-an-address]:80",
      "http://[127.0.0.1]",
      "http://host:80:90",
  };
  for (const char* text : rows) {
    INFO(text);
    const auto url = parse_base_url(text);
    REQUIRE_FALSE(url.has_value());
    CHECK(url.error() == gw::upstream::error::bad_url);
  }
}

TEST_CASE("an IP literal host is told from a name", "[upstream][base_url]") {
  CHECK(parse_base_url("http://127.0.0.1")->host_is_address());
  CHECK(parse_base_url("http://[::1]")->host_is_address());
  CHECK_FALSE(parse_base_url("http://localhost")->host_is_address());
  CHECK_FALSE(parse_base_url("http://m2.exosite.com")->host_is_address());
}

TEST_CASE("upstream errors have their own category", "[upstream][error]") {
  const boost::system::error_code ec = gw::upstream::error::timed_out;
  CHECK(ec.category().name() == std::string("upstream"));
  CHECK(ec.message() == "upstream deadline passed");
  CHECK(ec != boost::system::error_code());
  CHECK(make_error_code(gw::upstream::error::queue_full) != ec);
}
