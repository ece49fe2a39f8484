#include "translate/provision.hpp"

#include "http/form.hpp"
#include "translate/content_format.hpp"
#include "translate/dataport.hpp"

namespace gw::translate {
namespace {

upstream::request download_request(const std::string& cik, const http::form_pairs& query) {
  upstream::request r;
  r.method = "GET";
  r.target = "/provision/download?" + http::form_encode(query);
  add_cik(r, cik);
  return r;
}

}  // namespace

upstream::request plan_activate(const std::string& vendor, const std::string& model,
                                const std::string& sn) {
  upstream::request r;
  r.method = "POST";
  r.target = "/provision/activate";
  r.headers.push_back({"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"});
  r.body = http::form_encode({{"vendor", vendor}, {"model", model}, {"sn", sn}});
  return r;
}

upstream::request plan_list_content(const std::string& cik, const std::string& vendor,
                                    const std::string& model) {
  return download_request(cik, {{"vendor", vendor}, {"model", model}});
}

upstream::request plan_content_info(const std::string& cik, const std::string& vendor,
                                    const std::string& model, const std::string& id) {
  return download_request(cik, {{"vendor", vendor}, {"model", model}, {"id", id}, {"info", "true"}});
}

upstream::request plan_download(const std::string& cik, const std::string& vendor,
                                const std::string& model, const std::string& id) {
  return download_request(cik, {{"vendor", vendor}, {"model", model}, {"id", id}});
}

coap::message render_text(const coap::message& request, const upstream::response& r) {
  auto msg = coap::make_response(request, coap::codes::content);
  msg.add_uint_option(coap::opt::content_format, cf::text_plain);
  msg.set_payload(r.body);
  return msg;
}

coap::message render_download(const coap::message& request, const upstream::response& r) {
  auto msg = coap::make_response(request, coap::codes::content);
  auto type = r.find_header("Content-Type");
  auto format = type ? cf::from_media_type(*type) : std::nullopt;
  msg.add_uint_option(coap::opt::content_format, format.value_or(cf::octet_stream));
  msg.set_payload(r.body);
  return msg;
}

}  // namespace gw::translate
