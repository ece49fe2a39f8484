// The route table: every procedure of the CoAP API document with its captured parameters, 4.04
// and 4.05, and the RFC 6690 document it feeds to /.well-known/core.
#include "translate/route_table.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/unit/translate/translate_test_support.hpp"

namespace gw::translate {
namespace {

using namespace coap::codes;

struct route_case {
  coap::code method;
  std::vector<std::string> path;
  procedure expected;
  std::vector<std::string> params;
};

TEST_CASE("every procedure of the CoAP API document has a route", "[translate][routes]") {
  const std::vector<route_case> cases = {
      {post, {"1a", "temp"}, procedure::write, {"temp"}},
      {get, {"1a", "temp"}, procedure::read, {"temp"}},
      {get, {"1a", "a b%c"}, procedure::read, {"a b%c"}},
      {post, {"1a"}, procedure::multi, {}},
      {post,
       {"provision", "activate", "acme", "widget", "0001"},
       procedure::activate,
       {"acme", "widget", "0001"}},
      {get,
       {"provision", "download", "acme", "widget"},
       procedure::list_content,
       {"acme", "widget"}},
      {get,
       {"provision", "download", "acme", "widget", "fw.bin", "info"},
       procedure::content_info,
       {"acme", "widget", "fw.bin"}},
      {get,
       {"provision", "download", "acme", "widget", "fw.bin"},
       procedure::download,
       {"acme", "widget", "fw.bin"}},
      // An id that happens to be "info" is still a download of that id.
      {get,
       {"provision", "download", "acme", "widget", "info"},
       procedure::download,
       {"acme", "widget", "info"}},
      {get, {"ts"}, procedure::timestamp, {}},
      {post, {"rpc"}, procedure::rpc, {}},
      {get, {".well-known", "core"}, procedure::discovery, {}},
  };
  for (const auto& c : cases) {
    INFO(c.method.to_string() << " /" << (c.path.empty() ? "" : c.path.front()) << " ("
                              << c.path.size() << " segments)");
    const auto found = find_route(c.method, c.path);
    REQUIRE(found.match.has_value());
    REQUIRE(found.match->matched != nullptr);
    CHECK(found.match->matched->procedure == c.expected);
    CHECK(found.match->matched->method == c.method);
    CHECK(found.match->params == c.params);

    auto request = test::make_request(c.method, c.path);
    CHECK(classify(request) == c.expected);
    // Only discovery is answered without the upstream (or without a look at the CIK).
    CHECK(answered_locally(request) == (c.expected == procedure::discovery));
  }
}

TEST_CASE("a path no route has is 4.04", "[translate][routes]") {
  const std::vector<std::vector<std::string>> paths = {
      {},
      {"foo"},
      {"1A"},
      {"1a", "temp", "extra"},
      {"1a", ""},  // an empty alias segment captures nothing
      {"provision"},
      {"provision", "activate"},
      {"provision", "activate", "acme", "widget"},
      {"provision", "activate", "acme", "widget", "0001", "x"},
      {"provision", "download"},
      {"provision", "download", "acme"},
      {"provision", "download", "acme", "widget", "fw.bin", "meta"},
      {"provision", "download", "acme", "widget", "fw.bin", "info", "x"},
      {"ts", "x"},
      {"rpc", "x"},
      {".well-known"},
      {"well-known", "core"},
  };
  for (const auto& path : paths) {
    INFO("segments: " << path.size() << (path.empty() ? "" : " first: " + path.front()));
    // PUT and DELETE are on no route: 4.05 whatever the path (route_methods_test.cpp).
    for (auto method : {get, post}) {
      const auto found = find_route(method, path);
      CHECK_FALSE(found.match.has_value());
      CHECK(found.error == not_found);
    }
    CHECK_FALSE(classify(test::make_request(get, path)).has_value());
    CHECK(answered_locally(test::make_request(get, path)));  // 4.04 from the runner
  }
}

TEST_CASE("a known path with another method is 4.05", "[translate][routes]") {
  const std::vector<std::pair<coap::code, std::vector<std::string>>> cases = {
      {get, {"1a"}},
      {put, {"1a"}},
      {put, {"1a", "temp"}},
      {del, {"1a", "temp"}},
      {fetch, {"1a", "temp"}},
      {get, {"provision", "activate", "acme", "widget", "0001"}},
      {post, {"provision", "download", "acme", "widget"}},
      {post, {"provision", "download", "acme", "widget", "fw.bin"}},
      {del, {"provision", "download", "acme", "widget", "fw.bin", "info"}},
      {post, {"ts"}},
      {get, {"rpc"}},
      {post, {".well-known", "core"}},
  };
  for (const auto& [method, path] : cases) {
    INFO(method.to_string() << " /" << path.front() << " (" << path.size() << " segments)");
    const auto found = find_route(method, path);
    CHECK_FALSE(found.match.has_value());
    CHECK(found.error == method_not_allowed);
    CHECK(answered_locally(test::make_request(method, path)));
  }
}

TEST_CASE("procedure names", "[translate][routes]") {
  CHECK(to_string(procedure::discovery) == "discovery");
  CHECK(to_string(procedure::write) == "write");
  CHECK(to_string(procedure::read) == "read");
  CHECK(to_string(procedure::multi) == "multi");
  CHECK(to_string(procedure::activate) == "activate");
  CHECK(to_string(procedure::list_content) == "list_content");
  CHECK(to_string(procedure::content_info) == "content_info");
  CHECK(to_string(procedure::download) == "download");
  CHECK(to_string(procedure::timestamp) == "timestamp");
  CHECK(to_string(procedure::rpc) == "rpc");
}

// --- RFC 6690 ------------------------------------------------------------------------------

struct parsed_link {
  std::string target;
  std::vector<std::pair<std::string, std::optional<std::string>>> params;  // value unquoted

  std::optional<std::string> param(std::string_view name) const {
    for (const auto& [n, v] : params)
      if (n == name) return v.value_or("");
    return std::nullopt;
  }
};

// A strict reader of RFC 6690 §2:
//   Link       = link-value-list
//   link-value = "<" URI-Reference ">" *( ";" link-param )
//   link-param = parmname [ "=" ( ptoken / quoted-string ) ]
// Returns nullopt on any syntax error.
std::optional<std::vector<parsed_link>> parse_link_format(std::string_view s) {
  const auto is_parmname_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' ||
           c == '#' || c == '$' || c == '&' || c == '+' || c == '-' || c == '.' || c == '^' ||
           c == '_' || c == '`' || c == '|' || c == '~';
  };
  const auto is_ptoken_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'()*+-./:<=>?@[]^_`{|}~").find(c) != std::string_view::npos;
  };
  std::vector<parsed_link> out;
  std::size_t i = 0;
  while (true) {
    if (i >= s.size() || s[i] != '<') return std::nullopt;
    const auto close = s.find('>', i);
    if (close == std::string_view::npos) return std::nullopt;
    parsed_link link;
    link.target = std::string(s.substr(i + 1, close - i - 1));
    if (link.target.empty()) return std::nullopt;
    i = close + 1;
    while (i < s.size() && s[i] == ';') {
      ++i;
      const auto start = i;
      while (i < s.size() && is_parmname_char(s[i])) ++i;
      if (i == start) return std::nullopt;
      std::string name(s.substr(start, i - start));
      std::optional<std::string> value;
      if (i < s.size() && s[i] == '=') {
        ++i;
        std::string v;
        if (i < s.size() && s[i] == '"') {
          ++i;
          bool closed = false;
          while (i < s.size()) {
            if (s[i] == '\\') {
              if (i + 1 >= s.size()) return std::nullopt;
              v += s[i + 1];
              i += 2;
            } else if (s[i] == '"') {
              ++i;
              closed = true;
              break;
            } else {
              v += s[i++];
            }
          }
          if (!closed) return std::nullopt;
        } else {
          const auto vstart = i;
          while (i < s.size() && is_ptoken_char(s[i])) ++i;
          if (i == vstart) return std::nullopt;
          v = std::string(s.substr(vstart, i - vstart));
        }
        value = std::move(v);
      }
      link.params.emplace_back(std::move(name), std::move(value));
    }
    out.push_back(std::move(link));
    if (i == s.size()) return out;
    if (s[i] != ',') return std::nullopt;
    ++i;
  }
}

TEST_CASE("/.well-known/core is RFC 6690 with every linked route", "[translate][routes]") {
  const auto document = well_known_core();
  INFO(document);
  const auto links = parse_link_format(document);
  REQUIRE(links.has_value());

  std::map<std::string, parsed_link> by_target;
  for (const auto& l : *links) {
    CHECK(by_target.count(l.target) == 0);  // each target once
    by_target[l.target] = l;
  }

  // Every route with a link target is there, with its title and content formats.
  std::size_t linked = 0;
  for (const auto& r : routes()) {
    if (r.link_target.empty()) continue;
    ++linked;
    const std::string target(r.link_target);
    INFO(target);
    REQUIRE(by_target.count(target) == 1);
    const auto& l = by_target[target];
    CHECK(target.front() == '/');
    if (!r.title.empty()) CHECK(l.param("title") == std::string(r.title));
    if (!r.ct.empty()) CHECK(l.param("ct") == std::string(r.ct));
  }
  CHECK(links->size() == linked);

  // What the CoAP API document offers, with the content formats DESIGN.md gives each answer.
  const std::map<std::string, std::string> expected_ct = {
      {"/1a", "60"},
      {"/provision/activate", "0"},
      {"/provision/download", "0"},
      {"/ts", "0 42"},
      {"/rpc", "60 50"},
  };
  for (const auto& [target, ct] : expected_ct) {
    INFO(target);
    REQUIRE(by_target.count(target) == 1);
    CHECK(by_target[target].param("ct") == ct);
  }

  // ct-value (RFC 7252 §7.2.1) = cardinal / DQUOTE cardinal *( 1*SP cardinal ) DQUOTE: a single
  // value is written bare, a list quoted.
  CHECK(document.find("</1a>") != std::string::npos);
  CHECK(document.find(";ct=60") != std::string::npos);
  CHECK(document.find(";ct=\"0 42\"") != std::string::npos);
  CHECK(document.find(";ct=\"60 50\"") != std::string::npos);
  for (const auto& l : *links) {
    const auto ct = l.param("ct");
    if (!ct) continue;
    INFO(l.target << " ct=" << *ct);
    std::size_t start = 0;
    while (start <= ct->size()) {
      auto end = ct->find(' ', start);
      if (end == std::string::npos) end = ct->size();
      const auto number = ct->substr(start, end - start);
      CHECK_FALSE(number.empty());
      CHECK(number.find_first_not_of("0123456789") == std::string::npos);
      if (!number.empty() && number.size() <= 5) CHECK(std::stoul(number) <= 65535);
      start = end + 1;
    }
  }
}

TEST_CASE("the link-format reader used above refuses what it should", "[translate][routes]") {
  CHECK(parse_link_format("</a>;ct=0,</b>;title=\"x, y\"").has_value());
  CHECK(parse_link_format("</a>;obs").has_value());
  CHECK_FALSE(parse_link_format("").has_value());
  CHECK_FALSE(parse_link_format("</a>,").has_value());
  CHECK_FALSE(parse_link_format("</a>;title=\"x").has_value());
  CHECK_FALSE(parse_link_format("</a>;=1").has_value());
  CHECK_FALSE(parse_link_format("/a").has_value());
}

}  // namespace
}  // namespace gw::translate

TEST_CASE("/.well-known/core is serialized once, not per discovery request",
          "[translate][routes]") {
  // The same object every time: a GET of /.well-known/core copies it and builds nothing.
  const std::string& first = gw::translate::well_known_core();
  const std::string& second = gw::translate::well_known_core();
  CHECK(&first == &second);
  CHECK_FALSE(first.empty());
}
