#pragma once
// CoRE Link Format output (RFC 6690) for /.well-known/core.
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace gw::coap {

// One link-value: a target URI and its attributes in order. An attribute with an empty
// value is a bare flag ("obs", RFC 7641 §6); "ct" and "sz" with a numeric value are written
// as integers (RFC 7252 §7.2.1, RFC 6690 §3.3); every other value is a quoted-string.
struct link {
  std::string target;
  std::vector<std::pair<std::string, std::string>> attributes;
};

// "</a>;rt=\"x\";ct=0,</b>". Precondition: targets contain no '>'.
std::string serialize(std::span<const link> links);

}  // namespace gw::coap
