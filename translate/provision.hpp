#pragma once
// Plans and renders of the provisioning procedures: Activate, List Content IDs, Get Content
// Info, Download Content (whole representation; the block layer slices it).
#include <string>

#include "gateway/coap/message.hpp"
#include "translate/route_table.hpp"
#include "upstream/client.hpp"

namespace gw::translate {

upstream::request plan_activate(const std::string& vendor, const std::string& model,
                                const std::string& sn);
upstream::request plan_list_content(const std::string& cik, const std::string& vendor,
                                    const std::string& model);
upstream::request plan_content_info(const std::string& cik, const std::string& vendor,
                                    const std::string& model, const std::string& id);
upstream::request plan_download(const std::string& cik, const std::string& vendor,
                                const std::string& model, const std::string& id);

// 2.05 with the upstream text as it came (Content-Format 0): the CIK, the id list, the info.
coap::message render_text(const coap::message& request, const upstream::response& r);
// 2.05 with the content's bytes and the Content-Format of its type (42 when none maps).
coap::message render_download(const coap::message& request, const upstream::response& r);

}  // namespace gw::translate
