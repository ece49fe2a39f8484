#include "translate/route_table.hpp"

#include <algorithm>
#include <array>
#include <cassert>

#include "base/keyed_hash.hpp"

namespace gw::translate {
namespace {

using namespace coap::codes;

// Deeper than any pattern below (the deepest has 5 segments).
constexpr std::size_t max_route_depth = 8;

const std::vector<route>& table() {
  static const std::vector<route> rows = {
      {get, {".well-known", "core"}, procedure::discovery, "", "", "40"},
      {post, {"1a"}, procedure::multi, "/1a", "Multiple Read and Write", "60"},
      {get, {"1a", "{alias}"}, procedure::read, "", "", "0", true},
      {post, {"1a", "{alias}"}, procedure::write, "", "", ""},
      {post,
       {"provision", "activate", "{vendor}", "{model}", "{sn}"},
       procedure::activate,
       "/provision/activate",
       "Activate",
       "0"},
      {get,
       {"provision", "download", "{vendor}", "{model}"},
       procedure::list_content,
       "/provision/download",
       "List Content IDs, Content Info, Download Content",
       "0"},
      {get,
       {"provision", "download", "{vendor}", "{model}", "{id}", "info"},
       procedure::content_info,
       "",
       "",
       "0"},
      // Download Content answers in the Content-Format of the content's own type.
      {get,
       {"provision", "download", "{vendor}", "{model}", "{id}"},
       procedure::download,
       "",
       "",
       ""},
      {get, {"ts"}, procedure::timestamp, "/ts", "Timestamp", "0 42"},
      {post, {"rpc"}, procedure::rpc, "/rpc", "RPC proxy", "60 50"},
  };
  return rows;
}

bool path_matches(const route& r, std::span<const std::string_view> path,
                  std::vector<std::string>* params) {
  assert(r.pattern.size() <= max_route_depth);
  if (r.pattern.size() != path.size()) return false;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const auto& seg = r.pattern[i];
    if (seg.starts_with('{')) {
      if (path[i].empty()) return false;
      if (params) params->emplace_back(path[i]);
    } else if (seg != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view to_string(procedure p) {
  static constexpr std::array<std::string_view, 10> names = {
      "discovery",    "write",        "read",     "multi",     "activate",
      "list_content", "content_info", "download", "timestamp", "rpc"};
  return names[static_cast<std::size_t>(p)];
}

std::span<const route> routes() {
  return table();
}

namespace {

using path_views = std::array<std::string_view, max_route_depth + 1>;

// Views into the request's Uri-Path options, no strings made. A path deeper than any route
// matches none: it is kept as one segment too many, which no pattern's length equals.
std::span<const std::string_view> path_of(const coap::message& request, path_views& segments) {
  std::size_t depth = 0;
  for (const auto& o : request.options) {
    if (o.number != coap::opt::uri_path) continue;
    segments[std::min(depth, max_route_depth)] = {reinterpret_cast<const char*>(o.value.data()),
                                                  o.value.size()};
    ++depth;
  }
  return std::span(segments).first(std::min(depth, max_route_depth + 1));
}

}  // namespace

route_lookup find_route(coap::code method, const coap::message& request) {
  path_views segments;
  return find_route(method, path_of(request, segments));
}

bool answered_locally(const coap::message& request) {
  path_views segments;
  const auto path = path_of(request, segments);
  // find_route's walk without its captures: this runs for every safe request.
  for (const auto& r : table()) {
    if (r.method == request.code && path_matches(r, path, nullptr))
      return r.procedure == procedure::discovery;
  }
  return true;
}

route_lookup find_route(coap::code method, const std::vector<std::string>& path) {
  const std::vector<std::string_view> views(path.begin(), path.end());
  return find_route(method, views);
}

route_lookup find_route(coap::code method, std::span<const std::string_view> path) {
  bool path_known = false;
  bool method_known = false;
  for (const auto& r : table()) {
    method_known = method_known || r.method == method;
    if (!path_matches(r, path, nullptr)) continue;
    path_known = true;
    if (r.method != method) continue;
    route_match m{&r, {}};
    path_matches(r, path, &m.params);
    return {std::move(m), {}};
  }
  return {std::nullopt,
          path_known || !method_known ? coap::codes::method_not_allowed : coap::codes::not_found};
}

coap::code method_of(procedure p) {
  for (const auto& r : table()) {
    if (r.procedure == p) return r.method;
  }
  return coap::codes::get;  // unreachable: every procedure has a row
}

std::optional<procedure> classify(const coap::message& request) {
  auto found = find_route(request.code, request);
  if (!found.match) return std::nullopt;
  return found.match->matched->procedure;
}

bool route_answers_in(const route& r, std::uint16_t format) {
  if (r.ct.empty()) return true;
  const auto wanted = std::to_string(format);
  std::string_view rest = r.ct;
  while (!rest.empty()) {
    auto space = rest.find(' ');
    if (rest.substr(0, space) == wanted) return true;
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return false;
}

namespace {

std::string serialize_well_known_core() {
  std::vector<coap::link> links;
  for (const auto& r : table()) {
    if (r.link_target.empty()) continue;
    coap::link l;
    l.target = std::string(r.link_target);
    if (!r.title.empty()) l.attributes.emplace_back("title", std::string(r.title));
    if (!r.ct.empty()) l.attributes.emplace_back("ct", std::string(r.ct));
    links.push_back(std::move(l));
  }
  return coap::serialize(links);
}

}  // namespace

const std::string& well_known_core() {
  static const std::string document = serialize_well_known_core();
  return document;
}

const coap::bytes& well_known_core_etag() {
  static const coap::bytes etag = [] {
    const auto& doc = well_known_core();
    return coap::etag_from_hash(base::siphash24(
        {}, std::span(reinterpret_cast<const std::uint8_t*>(doc.data()), doc.size())));
  }();
  return etag;
}

}  // namespace gw::translate
