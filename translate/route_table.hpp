#pragma once
// The one route table: method + path pattern -> procedure. It drives dispatch and
// /.well-known/core, so a route added here is discoverable without editing any string elsewhere.
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/coap/code.hpp"
#include "gateway/coap/link_format.hpp"
#include "gateway/coap/message.hpp"

namespace gw::translate {

enum class procedure {
  discovery,
  write,
  read,
  multi,
  activate,
  list_content,
  content_info,
  download,
  timestamp,
  rpc,
};

std::string_view to_string(procedure p);

struct route {
  coap::code method;
  // Segments; "{name}" captures one segment into route_match::params in order.
  std::vector<std::string_view> pattern;
  translate::procedure procedure;
  // The link /.well-known/core shows for this route (RFC 6690), or an empty target for none.
  std::string_view link_target;
  std::string_view title;
  std::string_view ct;  // Content-Format(s) of its answers, as "0" or "0 42"; "" = any/none
  bool observable = false;
};

std::span<const route> routes();

struct route_match {
  const route* matched = nullptr;
  std::vector<std::string> params;
};

// matched == nullptr with a code: 4.05 when no route takes the method at all (RFC 7252 §5.8:
// an unrecognised or unsupported method, whatever the path) or a route has the path but not the
// method (§5.9.2.6); else 4.04 (no route has this path).
struct route_lookup {
  std::optional<route_match> match;
  coap::code error;
};

route_lookup find_route(coap::code method, std::span<const std::string_view> path);
// The same for a request's Uri-Path, read in place; and for a path held as strings (tests).
route_lookup find_route(coap::code method, const coap::message& request);
route_lookup find_route(coap::code method, const std::vector<std::string>& path);
// The method of the procedure's route (every procedure has exactly one).
coap::code method_of(procedure p);
// The procedure a request maps to, for logs and metrics; nullopt for no route.
std::optional<procedure> classify(const coap::message& request);

// Whether the request is answered without the upstream whatever else it carries: no route takes
// its method and path (4.04, 4.05), or it asks for /.well-known/core. The endpoint does not
// remember such a safe request for duplicates (core::local_answer_fn); false says nothing.
bool answered_locally(const coap::message& request);

// Whether the route can answer in Content-Format `format` (always, for a route whose ct is "").
bool route_answers_in(const route& r, std::uint16_t format);

// The RFC 6690 document served at /.well-known/core. The route table is fixed at build time,
// so the document is serialized once (on first use, thread-safe) and every discovery request
// copies it instead of rebuilding it.
const std::string& well_known_core();
// Its ETag (RFC 7252 §5.10.6), 4 bytes: SipHash under a fixed key, so that every instance of
// one build gives the same document the same tag (a client's Block2 transfer through a load
// balancer, or a validation, survives a change of instance) and the block layer need not hash
// the document for every request it cuts into blocks.
const coap::bytes& well_known_core_etag();

}  // namespace gw::translate
