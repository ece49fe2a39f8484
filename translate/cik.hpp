#pragma once
// The CIK travels as the first Uri-Query option: 40 hex characters as text, or the 20 raw bytes
// (the API document allows both; real clients send both). Upstream always wants lower-case hex.
//
// Clients that build every query item as `key=value` also send it as `<CIK>=` (node-coap-client)
// and people typing URIs write `cik=<CIK>` (any case of `cik`): both are accepted, with either
// form of the CIK in them.
#include <optional>
#include <string>
#include <string_view>

namespace gw::translate {

// Lower-case 40-hex CIK, or nullopt when the option is none of the forms above.
std::optional<std::string> decode_cik(std::string_view first_query);

// A Uri-Query item naming an alias: `name`, or `name=` as key=value clients write it.
std::string_view query_alias(std::string_view item);

}  // namespace gw::translate
