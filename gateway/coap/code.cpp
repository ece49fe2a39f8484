#include "gateway/coap/code.hpp"

namespace gw::coap {

// RFC 7252 §3: "c.dd", the class as one digit and the detail as two.
std::string code::to_string() const {
  std::string out(4, '.');
  out[0] = static_cast<char>('0' + cls());
  out[2] = static_cast<char>('0' + detail() / 10);
  out[3] = static_cast<char>('0' + detail() % 10);
  return out;
}

}  // namespace gw::coap
