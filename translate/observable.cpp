#include "translate/observable.hpp"

#include "translate/cik.hpp"
#include "translate/route_table.hpp"

namespace gw::translate {

std::optional<core::resource_key> observable_resource(const coap::message& request) {
  if (request.code != coap::codes::get) return std::nullopt;
  const auto found = find_route(request.code, request);
  if (!found.match || !found.match->matched->observable) return std::nullopt;
  // An observable route captures exactly one segment: the dataport's alias.
  const auto& params = found.match->params;
  if (params.size() != 1) return std::nullopt;
  const auto queries = request.queries();
  if (queries.empty()) return std::nullopt;
  auto cik = decode_cik(queries.front());
  if (!cik) return std::nullopt;
  return core::resource_key{std::move(*cik), params.front()};
}

}  // namespace gw::translate
