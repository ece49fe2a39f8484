#include <algorithm>

#include "gateway/coap/block.hpp"
#include "runner/procedure_runner.hpp"
#include "translate/provision.hpp"
#include "translate/status_map.hpp"

// Download Content: the file is fetched from upstream in windows of `download_window` bytes
// (one Range request each) and served from the window cache block by block.
namespace gw::runner {

using namespace translate;

boost::asio::awaitable<coap::message> procedure_runner::async_download(
    const coap::message& request, const std::string& cik, const std::vector<std::string>& params) {
  const auto& vendor = params[0];
  const auto& model = params[1];
  const auto& id = params[2];
  // The info call authorises the CIK and names the content's version: the cache keys on it.
  const auto now = clock_.now();
  const auto info_key = cik + '\0' + vendor + '\0' + model + '\0' + id;
  std::optional<content_info> info;
  if (const auto* known = infos_.find(info_key, now)) {
    info = *known;
  } else {
    auto answer = co_await async_call(request, plan_content_info(cik, vendor, model, id));
    if (auto* failed = std::get_if<coap::message>(&answer)) co_return std::move(*failed);
    auto& info_response = std::get<upstream::response>(answer);
    if (info_response.status != 200)
      co_return error_response(request, procedure::download, info_response, clock_.unix_seconds());
    info = parse_content_info(info_response.body);
    if (!info)
      co_return coap::make_error(request, coap::codes::bad_gateway, "unreadable content info");
    infos_.store(info_key, *info, now + options_.content_info_ttl);
  }

  // Early negotiation (RFC 7959 §2.4): the client's SZX, never above ours; the byte offset it
  // asked for is kept when it asked for larger blocks than we send.
  const auto server_szx = coap::szx_for_size(options_.block_size).value_or(6);
  std::optional<coap::block_value> asked;
  if (auto* opt = request.find(coap::opt::block2)) asked = coap::decode_block(opt->value);
  coap::block_value block{0, false, server_szx};
  if (asked) {
    block.szx = std::min(asked->szx, server_szx);
    block.num = static_cast<std::uint32_t>(asked->offset() / block.size());
  }
  const bool blockwise = asked.has_value() || info->size > block.size();
  auto range = coap::block_slice(info->size, block);
  if (range.past_end)
    co_return coap::make_error(request, coap::codes::bad_option, "block past the end");
  if (range.length == 0)
    co_return render_content(
        request, *info, blockwise ? std::optional(content_block{block, false}) : std::nullopt, "");

  const auto window = options_.download_window;
  const std::uint64_t first = range.offset / window * window;
  const std::uint64_t last = std::min<std::uint64_t>(info->size, first + window) - 1;
  const auto key = vendor + '\0' + model + '\0' + id + '\0' + std::to_string(info->updated) + '\0' +
                   std::to_string(info->size) + '\0' + std::to_string(first);
  const std::string* bytes = content_.find(key);
  std::string fetched;
  if (!bytes) {
    auto got =
        co_await async_call(request, plan_download_range(cik, vendor, model, id, first, last));
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
