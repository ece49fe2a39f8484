#pragma once
// The one Content-Format table (RFC 7252 §12.3 registry entries this gateway uses).
#include <cstdint>
#include <optional>
#include <string_view>

namespace gw::translate::cf {

inline constexpr std::uint16_t text_plain = 0;     // text/plain;charset=utf-8
inline constexpr std::uint16_t link_format = 40;   // application/link-format
inline constexpr std::uint16_t xml = 41;           // application/xml
inline constexpr std::uint16_t octet_stream = 42;  // application/octet-stream
inline constexpr std::uint16_t json = 50;          // application/json
inline constexpr std::uint16_t cbor = 60;          // application/cbor

// The Content-Format of an HTTP Content-Type (parameters ignored), or nullopt when none maps.
std::optional<std::uint16_t> from_media_type(std::string_view content_type);

}  // namespace gw::translate::cf
