#pragma once
// The provisioning API: activation (`/provision/activate`) and content download
// (`/provision/download`: list, info, download with byte ranges).
#include "sim/message.hpp"
#include "sim/state.hpp"

namespace gw::sim {

enum class download_kind { list, info, download };

// From the query: `id` and `info=true` -> info, `id` -> download, neither -> list.
download_kind classify_download(const request& req);

response handle_activate(const request& req, state& st);
response handle_download(const request& req, state& st);

}  // namespace gw::sim
