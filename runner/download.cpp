#include <algorithm>

#include "gateway/coap/block.hpp"
#include "runner/procedure_runner.hpp"
#include "translate/content_format.hpp"
#include "translate/provision.hpp"
#include "translate/status_map.hpp"

// Download Content: the file is fetched from upstream in windows of `download_window` bytes (one
// Range request each) and served from the window cache block by block.
//
// The content's version (Get Content Info: type, size, updated) names the windows, so an updated
// file is never served from an old window. A version checked less than `content_info_ttl` ago is
// trusted for everything; an older one only for blocks of a transfer under way whose window is
// cached. So a transfer that starts, or needs a window fetched, checks again: at most once per
// window whatever the client's pace. A file updated in the middle of a transfer is noticed at
// the next window: its blocks then carry a new ETag, which tells the client to start over
// (RFC 7959 §2.4).
namespace gw::runner {

using namespace translate;

namespace {

std::string window_key(const std::vector<std::string>& params, const content_info& info,
                       std::uint64_t first) {
  return params[0] + '\0' + params[1] + '\0' + params[2] + '\0' + std::to_string(info.updated) +
         '\0' + std::to_string(info.size) + '\0' + std::to_string(first);
}

}  // namespace

boost::asio::awaitable<std::variant<content_info, coap::message>>
procedure_runner::async_content_info(const coap::message& request, const std::string& cik,
                                     const std::vector<std::string>& params) {
  auto answer =
      co_await async_call(request, plan_content_info(cik, params[0], params[1], params[2]));
  if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
  auto& response = std::get<upstream::response>(answer);
  if (response.status != 200)
    co_return error_response(request, procedure::download, response, clock_.unix_seconds());
  auto info = parse_content_info(response.body);
  if (!info)
    co_return coap::make_error(request, coap::codes::bad_gateway, "unreadable content info");
  const auto now = clock_.now();
  infos_.store(cik + '\0' + params[0] + '\0' + params[1] + '\0' + params[2],
               checked_info{*info, now}, now + options_.content_info_keep);
  co_return *info;
}

boost::asio::awaitable<coap::message> procedure_runner::async_download(
    const coap::message& request, const std::string& cik, const std::vector<std::string>& params) {
  std::optional<coap::block_value> asked;
  if (auto* opt = request.find(coap::opt::block2)) asked = coap::decode_block(opt->value);
  const std::uint64_t asked_offset = asked ? asked->offset() : 0;
  const std::uint64_t window = options_.download_window;
  const std::uint64_t first = asked_offset / window * window;

  const auto now = clock_.now();
  const auto* known =
      infos_.find(cik + '\0' + params[0] + '\0' + params[1] + '\0' + params[2], now);
  const bool recheck =
      !known || (now - known->checked >= options_.content_info_ttl &&
                 (asked_offset == 0 || !content_.find(window_key(params, known->info, first))));
  std::optional<content_info> info;
  if (recheck) {
    auto checked = co_await async_content_info(request, cik, params);
    if (auto* failed = std::get_if<coap::message>(&checked)) co_return std::move(*failed);
    info = std::get<content_info>(checked);
  } else {
    info = known->info;
  }
  // RFC 7252 §5.10.4: the representation is the file as it is; another format is 4.06.
  const auto format = cf::from_media_type(info->type).value_or(cf::octet_stream);
  if (auto accept = request.accept(); accept && *accept != format)
    co_return coap::make_error(request, coap::codes::not_acceptable,
                               "the content is Content-Format " + std::to_string(format));

  // The same negotiation and limits as the block layer (RFC 7959 §2.4, §2.2).
  const auto negotiated = coap::negotiate_block2(asked, options_.block_size, info->size);
  if (const auto* refused = std::get_if<coap::block2_refusal>(&negotiated))
    co_return coap::make_error(request, coap::codes::bad_option, describe(*refused, info->size));
  const auto& [block, range] = std::get<coap::block2_choice>(negotiated);
  const bool blockwise = asked.has_value() || range.more;
  if (range.length == 0)
    co_return render_content(
        request, *info, blockwise ? std::optional(content_block{block, false}) : std::nullopt, "");

  const auto key = window_key(params, *info, first);
  const std::string* bytes = content_.find(key);
  std::string fetched;
  if (!bytes) {
    const std::uint64_t last = std::min<std::uint64_t>(info->size, first + window) - 1;
    auto got = co_await async_call(
        request, plan_download_range(cik, params[0], params[1], params[2], first, last));
    if (auto* failed = std::get_if<coap::message>(&got)) co_return std::move(*failed);
    auto& r = std::get<upstream::response>(got);
    if (r.status == 200 && r.body.size() == info->size) {
      fetched = r.body.substr(first, last - first + 1);  // the server ignored Range
    } else if (r.status == 206 && r.body.size() == last - first + 1) {
      fetched = std::move(r.body);
    } else if (r.status == 200 || r.status == 206) {
      co_return coap::make_error(request, coap::codes::bad_gateway,
                                 "content changed size during the download");
    } else {
      co_return error_response(request, procedure::download, r, clock_.unix_seconds());
    }
    content_.store(key, fetched);
    bytes = &fetched;
  }
  auto slice = std::string_view(*bytes).substr(range.offset - first, range.length);
  co_return render_content(
      request, *info, blockwise ? std::optional(content_block{block, range.more}) : std::nullopt,
      slice);
}

}  // namespace gw::runner
