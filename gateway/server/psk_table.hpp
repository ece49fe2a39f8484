#pragma once
// The pre-shared keys of coaps (RFC 4279 §2, RFC 7252 §9.1.3.1): identity -> key, parsed from
// coap.dtls.psk_file. Plain data, no OpenSSL: the app parses the file, each worker's DTLS
// context looks keys up. A PSK authenticates the transport only; the CIK still comes from the
// request.
//
// File format, one entry a line:
//   identity: hex:00112233445566778899aabbccddeeff
//   identity: text:a passphrase
// The identity ends at the first ':' not escaped; "\:" is a ':' and "\\" a '\' inside it.
// Spaces around the identity and after "text:"'s value are dropped. Blank lines and lines
// starting with '#' are skipped. Errors name the line, never the key.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gw::server {

class psk_table {
 public:
  using key = std::vector<std::uint8_t>;

  // nullptr when the identity is unknown.
  const key* find(std::string_view identity) const;
  // False when the identity is already there.
  bool add(std::string identity, key k);
  std::size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }
  // Identities whose key differs in `next` or which `next` lacks: their sessions end on a
  // reload.
  std::vector<std::string> changed_in(const psk_table& next) const;

 private:
  std::map<std::string, key, std::less<>> keys_;
};

struct psk_file_error {
  std::size_t line = 0;
  std::string problem;
};

struct psk_parse_result {
  psk_table table;
  std::vector<psk_file_error> errors;  // empty: the table is the whole file
};

// OpenSSL's limits (PSK_MAX_IDENTITY_LEN, PSK_MAX_PSK_LEN are larger; these suit devices).
inline constexpr std::size_t max_psk_identity = 128;
inline constexpr std::size_t max_psk_key = 64;

psk_parse_result parse_psk_file(std::string_view text);

}  // namespace gw::server
