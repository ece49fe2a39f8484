#pragma once
// CoAP message codes (RFC 7252 §3, §12.1): a class (3 bits) and a detail (5 bits).
#include <cstdint>
#include <string>

namespace gw::coap {

struct code {
  std::uint8_t value = 0;

  constexpr code() = default;
  constexpr explicit code(std::uint8_t v) : value(v) {}
  constexpr code(unsigned cls, unsigned detail)
      : value(static_cast<std::uint8_t>((cls << 5) | (detail & 0x1f))) {}

  constexpr unsigned cls() const { return value >> 5; }
  constexpr unsigned detail() const { return value & 0x1f; }
  constexpr bool is_empty() const { return value == 0; }
  constexpr bool is_request() const { return cls() == 0 && value != 0; }
  constexpr bool is_response() const { return cls() >= 2 && cls() <= 5; }
  constexpr bool is_success() const { return cls() == 2; }
  friend constexpr bool operator==(code, code) = default;

  // "2.05"
  std::string to_string() const;
};

namespace codes {
inline constexpr code empty{0, 0};
inline constexpr code get{0, 1};
inline constexpr code post{0, 2};
inline constexpr code put{0, 3};
inline constexpr code del{0, 4};
inline constexpr code fetch{0, 5};
inline constexpr code patch{0, 6};
inline constexpr code ipatch{0, 7};

inline constexpr code created{2, 1};
inline constexpr code deleted{2, 2};
inline constexpr code valid{2, 3};
inline constexpr code changed{2, 4};
inline constexpr code content{2, 5};
inline constexpr code continue_{2, 31};

inline constexpr code bad_request{4, 0};
inline constexpr code unauthorized{4, 1};
inline constexpr code bad_option{4, 2};
inline constexpr code forbidden{4, 3};
inline constexpr code not_found{4, 4};
inline constexpr code method_not_allowed{4, 5};
inline constexpr code not_acceptable{4, 6};
inline constexpr code request_entity_incomplete{4, 8};
inline constexpr code conflict{4, 9};  // RFC 8132 §2.2
inline constexpr code precondition_failed{4, 12};
inline constexpr code request_entity_too_large{4, 13};
inline constexpr code unsupported_content_format{4, 15};
inline constexpr code unprocessable_entity{4, 22};  // RFC 8132 §2.2
inline constexpr code too_many_requests{4, 29};

inline constexpr code internal_server_error{5, 0};
inline constexpr code not_implemented{5, 1};
inline constexpr code bad_gateway{5, 2};
inline constexpr code service_unavailable{5, 3};
inline constexpr code gateway_timeout{5, 4};
inline constexpr code proxying_not_supported{5, 5};
}  // namespace codes

// RFC 7252 §5.1, RFC 8132 §2: the safe methods; running one again changes nothing upstream.
constexpr bool is_safe(code method) {
  return method == codes::get || method == codes::fetch;
}

}  // namespace gw::coap
