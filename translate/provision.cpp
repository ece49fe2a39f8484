#include "translate/provision.hpp"

#include <charconv>

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
  return download_request(cik,
                          {{"vendor", vendor}, {"model", model}, {"id", id}, {"info", "true"}});
}

upstream::request plan_download(const std::string& cik, const std::string& vendor,
                                const std::string& model, const std::string& id) {
  return download_request(cik, {{"vendor", vendor}, {"model", model}, {"id", id}});
}

upstream::request plan_download_range(const std::string& cik, const std::string& vendor,
                                      const std::string& model, const std::string& id,
                                      std::uint64_t first, std::uint64_t last) {
  auto r = plan_download(cik, vendor, model, id);
  r.headers.push_back({"Range", "bytes=" + std::to_string(first) + "-" + std::to_string(last)});
  return r;
}

std::optional<content_info> parse_content_info(std::string_view body) {
  // Fields are split on the first three commas: the meta field may hold commas of its own.
  content_info info;
  auto next = [&body](std::string_view& field) {
    auto comma = body.find(',');
    if (comma == std::string_view::npos) return false;
    field = body.substr(0, comma);
    body.remove_prefix(comma + 1);
    return true;
  };
  std::string_view type, size, updated;
  if (!next(type) || !next(size)) return std::nullopt;
  auto comma = body.find(',');
  updated = body.substr(0, comma);
  while (!updated.empty() && (updated.back() == '\n' || updated.back() == '\r'))
    updated.remove_suffix(1);
  auto to_int = [](std::string_view t, auto& out) {
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    return ec == std::errc{} && end == t.data() + t.size() && !t.empty();
  };
  if (!to_int(size, info.size) || !to_int(updated, info.updated)) return std::nullopt;
  info.type = std::string(type);
  return info;
}

coap::bytes content_etag(const content_info& info) {
  coap::bytes etag(8);
  auto updated = static_cast<std::uint32_t>(info.updated);
  auto size = static_cast<std::uint32_t>(info.size);
  for (int i = 0; i < 4; ++i) {
    etag[i] = static_cast<std::uint8_t>(updated >> (24 - 8 * i));
    etag[4 + i] = static_cast<std::uint8_t>(size >> (24 - 8 * i));
  }
  return etag;
}

coap::message render_text(const coap::message& request, const upstream::response& r) {
  auto msg = coap::make_response(request, coap::codes::content);
  msg.add_uint_option(coap::opt::content_format, cf::text_plain);
  msg.set_payload(r.body);
  return msg;
}

coap::message render_content(const coap::message& request, const content_info& info,
                             std::optional<content_block> block, std::string_view bytes) {
  auto msg = coap::make_response(request, coap::codes::content);
  msg.add_option(coap::opt::etag, content_etag(info));
  msg.add_uint_option(coap::opt::content_format,
                      cf::from_media_type(info.type).value_or(cf::octet_stream));
  if (block) {
    auto value = block->block;
    value.more = block->more;
    msg.add_option(coap::opt::block2, coap::encode_block(value));
    // RFC 7959 §4: the total size on the first block, and whenever the client asks with Size2.
    if (value.num == 0 || request.has(coap::opt::size2))
      msg.add_uint_option(coap::opt::size2, info.size);
  }
  msg.set_payload(bytes);
  return msg;
}

}  // namespace gw::translate
