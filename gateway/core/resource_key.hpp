#pragma once
// What an observer observes: one dataport of one device, named by (normalised CIK, alias). The
// core registry keys its observer lists by it and the long-poll bridge keys its polls by it, so
// the two agree by type, not by convention. The core treats both strings as opaque; translate/
// builds the key (the CIK as lower-case hex whatever form the request carried it in), so junk
// query items and CIK spellings cannot split one dataport into many resources (RFC 7641 §1.2: a
// resource is what the server says it is).
#include <string>

namespace gw::core {

struct resource_key {
  std::string cik;    // lower-case hex
  std::string alias;  // the dataport's alias as the Uri-Path gave it

  friend bool operator==(const resource_key&, const resource_key&) = default;
  friend auto operator<=>(const resource_key&, const resource_key&) = default;
};

}  // namespace gw::core
