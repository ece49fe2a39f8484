#pragma once
// Option numbers (RFC 7252 §12.2, RFC 7641, RFC 7959, RFC 7967, RFC 9175).
#include <cstdint>

namespace gw::coap::opt {
inline constexpr std::uint16_t if_match = 1;
inline constexpr std::uint16_t uri_host = 3;
inline constexpr std::uint16_t etag = 4;
inline constexpr std::uint16_t if_none_match = 5;
inline constexpr std::uint16_t observe = 6;
inline constexpr std::uint16_t uri_port = 7;
inline constexpr std::uint16_t location_path = 8;
inline constexpr std::uint16_t uri_path = 11;
inline constexpr std::uint16_t content_format = 12;
inline constexpr std::uint16_t max_age = 14;
inline constexpr std::uint16_t uri_query = 15;
inline constexpr std::uint16_t accept = 17;
inline constexpr std::uint16_t location_query = 20;
inline constexpr std::uint16_t block2 = 23;
inline constexpr std::uint16_t block1 = 27;
inline constexpr std::uint16_t size2 = 28;
inline constexpr std::uint16_t proxy_uri = 35;
inline constexpr std::uint16_t proxy_scheme = 39;
inline constexpr std::uint16_t size1 = 60;
inline constexpr std::uint16_t echo = 252;
inline constexpr std::uint16_t no_response = 258;
inline constexpr std::uint16_t request_tag = 292;
}  // namespace gw::coap::opt
