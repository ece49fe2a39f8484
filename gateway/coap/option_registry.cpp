#include "gateway/coap/option_registry.hpp"

#include <algorithm>
#include <array>

#include "gateway/coap/option_number.hpp"

namespace gw::coap {

namespace {

using enum option_format;

// Sorted by number. Lengths and repeatability from RFC 7252 §5.10 (Table 4), RFC 7641 §2,
// RFC 7959 §2.1 and §4, RFC 7967 §2 and RFC 9175 §2.2 and §3.2. A last `false` marks an option
// as not supported (option_def::supported).
constexpr std::array registry{
    option_def{opt::if_match, "If-Match", opaque, 0, 8, true, false},
    option_def{opt::uri_host, "Uri-Host", string, 1, 255, false},
    option_def{opt::etag, "ETag", opaque, 1, 8, true},
    option_def{opt::if_none_match, "If-None-Match", empty, 0, 0, false, false},
    option_def{opt::observe, "Observe", uint, 0, 3, false},
    option_def{opt::uri_port, "Uri-Port", uint, 0, 2, false},
    option_def{opt::location_path, "Location-Path", string, 0, 255, true},
    option_def{opt::uri_path, "Uri-Path", string, 0, 255, true},
    option_def{opt::content_format, "Content-Format", uint, 0, 2, false},
    option_def{opt::max_age, "Max-Age", uint, 0, 4, false},
    option_def{opt::uri_query, "Uri-Query", string, 0, 255, true},
    option_def{opt::accept, "Accept", uint, 0, 2, false},
    option_def{opt::location_query, "Location-Query", string, 0, 255, true},
    option_def{opt::block2, "Block2", uint, 0, 3, false},
    option_def{opt::block1, "Block1", uint, 0, 3, false},
    option_def{opt::size2, "Size2", uint, 0, 4, false},
    option_def{opt::proxy_uri, "Proxy-Uri", string, 1, 1034, false},
    option_def{opt::proxy_scheme, "Proxy-Scheme", string, 1, 255, false},
    option_def{opt::size1, "Size1", uint, 0, 4, false},
    option_def{opt::echo, "Echo", opaque, 1, 40, false},
    option_def{opt::no_response, "No-Response", uint, 0, 1, false},
    option_def{opt::request_tag, "Request-Tag", opaque, 0, 8, true},
};

static_assert(std::is_sorted(registry.begin(), registry.end(),
                             [](const option_def& a, const option_def& b) {
                               return a.number < b.number;
                             }),
              "find_option relies on the table being sorted by number");

}  // namespace

const option_def* find_option(std::uint16_t number) {
  const auto it =
      std::lower_bound(registry.begin(), registry.end(), number,
                       [](const option_def& d, std::uint16_t n) { return d.number < n; });
  return it != registry.end() && it->number == number ? &*it : nullptr;
}

std::span<const option_def> all_options() {
  return registry;
}

}  // namespace gw::coap
