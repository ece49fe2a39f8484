#pragma once
// The CIK travels as the first Uri-Query option: 40 hex characters as text, or the 20 raw bytes
// (the API document allows both; real clients send both). Upstream always wants lower-case hex.
#include <optional>
#include <string>
#include <string_view>

namespace gw::translate {

// Lower-case 40-hex CIK, or nullopt when the option is neither form.
std::optional<std::string> decode_cik(std::string_view first_query);

}  // namespace gw::translate
