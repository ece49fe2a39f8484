#pragma once
// Reading fields of upstream JSON without exceptions: upstream bodies are untrusted input.
#include <cstdint>
#include <optional>

#include "translate/cbor_json.hpp"

namespace gw::translate {

// The integer code of a JSON-RPC whole-request failure, {"error": {"code": C, ...}}; nullopt
// when `body` is not shaped like one.
inline std::optional<std::int64_t> whole_request_error(const json& body) {
  if (!body.is_object()) return std::nullopt;
  auto error = body.find("error");
  if (error == body.end() || !error->is_object()) return std::nullopt;
  auto code = error->find("code");
  if (code == error->end() || !code->is_number_integer()) return std::nullopt;
  return code->get<std::int64_t>();
}

}  // namespace gw::translate
