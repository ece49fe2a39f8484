#pragma once
// Throw-away certificates made with the openssl command line at run time, once per process,
// in a temporary directory removed at exit.
#include <string>

namespace gw::upstream::test {

struct cert_files {
  std::string cert;  // PEM, self-signed
  std::string key;   // PEM, unencrypted
};

struct test_pki {
  cert_files localhost;  // CN=localhost, SAN DNS:localhost, IP:127.0.0.1
  cert_files other;      // CN=example.invalid, SAN DNS:example.invalid only
  cert_files client;     // CN=coap-gateway test client
};

// Throws std::runtime_error when openssl fails.
const test_pki& pki();

}  // namespace gw::upstream::test
