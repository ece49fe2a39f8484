#include "translate/rpc.hpp"

#include "translate/cbor_json.hpp"
#include "translate/content_format.hpp"
#include "translate/json_fields.hpp"

namespace gw::translate {
namespace {

coap::code whole_request_error_code(const json& body) {
  auto code = whole_request_error(body);
  if (!code) return coap::codes::bad_gateway;
  switch (*code) {
    case 401:
      return coap::codes::unauthorized;
    case 400:
    case -1:
      return coap::codes::bad_request;
    default:
      return coap::codes::bad_gateway;
  }
}

}  // namespace

std::variant<rpc_plan, coap::message> plan_rpc(const coap::message& request) {
  auto format = request.content_format().value_or(cf::cbor);
  auto accept = request.accept();
  if (accept && *accept != cf::cbor && *accept != cf::json)
    return coap::make_error(request, coap::codes::not_acceptable, "Accept 50 or 60");

  rpc_plan plan;
  // DESIGN.md: CBOR back unless JSON is asked for with Accept, whatever the request's format.
  plan.answer_format = accept.value_or(cf::cbor);
  auto& r = plan.http;
  r.method = "POST";
  r.target = "/onep:v1/rpc/process";
  r.headers.push_back({"Content-Type", "application/json; charset=utf-8"});

  if (format == cf::cbor) {
    auto decoded = cbor_to_json(request.payload);
    if (!decoded)
      return coap::make_error(request, coap::codes::bad_request,
                              "bad CBOR: " + decoded.error().to_string());
    r.body = decoded->dump();
  } else if (format == cf::json) {
    auto text = request.payload_text();
    if (json::parse(text.begin(), text.end(), nullptr, false).is_discarded())
      return coap::make_error(request, coap::codes::bad_request, "bad JSON");
    r.body = std::string(text);
  } else {
    return coap::make_error(request, coap::codes::unsupported_content_format,
                            "use Content-Format 60 (CBOR) or 50 (JSON)");
  }
  return plan;
}

coap::message render_rpc(const coap::message& request, const rpc_plan& plan,
                         const upstream::response& r) {
  auto body = json::parse(r.body, nullptr, false);
  if (body.is_discarded())
    return coap::make_error(request, coap::codes::bad_gateway, "unreadable upstream answer");

  // A whole-request failure arrives with HTTP 200 as an object (upstream-http-api.md).
  auto code = body.is_object() && body.contains("error") ? whole_request_error_code(body)
                                                         : coap::codes::content;
  auto msg = coap::make_response(request, code);
  msg.add_uint_option(coap::opt::content_format, plan.answer_format);
  if (plan.answer_format == cf::json)
    msg.set_payload(r.body);
  else
    msg.payload = json_to_cbor(body);
  return msg;
}

}  // namespace gw::translate
