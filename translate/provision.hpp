#pragma once
// Plans and renders of the provisioning procedures: Activate, List Content IDs, Get Content
// Info, Download Content (whole representation; the block layer slices it).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/coap/block.hpp"
#include "gateway/coap/message.hpp"
#include "translate/route_table.hpp"
#include "upstream/message.hpp"

namespace gw::translate {

upstream::request plan_activate(const std::string& vendor, const std::string& model,
                                const std::string& sn);
upstream::request plan_list_content(const std::string& cik, const std::string& vendor,
                                    const std::string& model);
upstream::request plan_content_info(const std::string& cik, const std::string& vendor,
                                    const std::string& model, const std::string& id);
upstream::request plan_download(const std::string& cik, const std::string& vendor,
                                const std::string& model, const std::string& id);
// The same with `Range: bytes=first-last` (inclusive).
upstream::request plan_download_range(const std::string& cik, const std::string& vendor,
                                      const std::string& model, const std::string& id,
                                      std::uint64_t first, std::uint64_t last);

// "<content-type>,<byte-size>,<updated-timestamp>,<meta>" from Get Content Info.
struct content_info {
  std::string type;
  std::uint64_t size = 0;
  std::int64_t updated = 0;
};
std::optional<content_info> parse_content_info(std::string_view body);

// Every block of one content version carries this ETag: its updated timestamp and size.
coap::bytes content_etag(const content_info& info);

// 2.05 with the upstream text as it came (Content-Format 0): the CIK, the id list, the info.
coap::message render_text(const coap::message& request, const upstream::response& r);
// 2.05 with (a block of) the content: Content-Format of its type (42 when none maps), the ETag
// of its version, and, for a block, Block2 and (on the first block or when asked) Size2.
struct content_block {
  coap::block_value block;
  bool more = false;
};
coap::message render_content(const coap::message& request, const content_info& info,
                             std::optional<content_block> block, std::string_view bytes);

}  // namespace gw::translate
