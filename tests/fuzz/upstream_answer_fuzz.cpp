// libFuzzer target: what translate/ reads from One Platform answers (the upstream is trusted
// less than it seems: proxies, truncation, a newer API). Byte 0 picks the HTTP status, byte 1
// the number of aliases asked; the rest up to the first '\n' is a Retry-After header value and
// what follows is the body. Every parser answers with a value, never a throw or a crash, and
// every rendered CoAP message encodes to a datagram that decodes to the same message.
// Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/coap/codec.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "translate/cbor_json.hpp"
#include "translate/dataport.hpp"
#include "translate/provision.hpp"
#include "translate/rpc.hpp"
#include "translate/status_map.hpp"
#include "translate/timestamp.hpp"

namespace {

using namespace gw;

void check_renders(const coap::message& m) {
  const auto again = coap::decode(coap::encode(m));
  GW_FUZZ_CHECK(again && *again == m);
}

const unsigned statuses[] = {200, 204, 206, 304, 400, 401, 403, 404, 409, 412,
                             413, 415, 416, 429, 500, 501, 502, 503, 504, 0};

coap::message request(std::string_view path) {
  coap::message m;
  m.code = coap::codes::post;
  m.mid = 1;
  m.token = {1, 2};
  m.add_option(coap::opt::uri_path, path);
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  upstream::response r;
  r.status = data[0] < sizeof statuses / sizeof statuses[0] * 2
                 ? statuses[data[0] % (sizeof statuses / sizeof statuses[0])]
                 : data[0] + 100u;
  const std::size_t count = data[1] % 16;
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (auto nl = rest.find('\n'); nl != std::string_view::npos) {
    r.headers.push_back({"Retry-After", std::string(rest.substr(0, nl))});
    rest.remove_prefix(nl + 1);
  }
  r.body.assign(rest);

  // Read and Multiple Read: `alias=value&...`.
  (void)translate::parse_read_body(r);
  translate::multi_plan plan;
  plan.reads = {"temp", "humidity", "a b"};
  check_renders(translate::render_multi(request("1a"), plan, r));

  // The alias check: one `lookup` and a batch of `count`.
  (void)translate::parse_lookup(r);
  GW_FUZZ_CHECK(translate::parse_lookups(r, count).size() == count);

  // Provisioning: the content list (passed on as text) and one content's info.
  check_renders(translate::render_text(request("provision"), r));
  if (const auto info = translate::parse_content_info(r.body)) (void)translate::content_etag(*info);

  (void)translate::parse_timestamp(r.body);

  // The RPC proxy's answer, to CBOR and as JSON.
  const translate::rpc_plan cbor_plan{60, {}};
  check_renders(translate::render_rpc(request("rpc"), cbor_plan, r));
  const translate::rpc_plan json_plan{50, {}};
  check_renders(translate::render_rpc(request("rpc"), json_plan, r));

  // Error answers, with Max-Age from Retry-After.
  (void)translate::retry_after_seconds(r, 1700000000);
  for (auto p :
       {translate::procedure::read, translate::procedure::download, translate::procedure::rpc}) {
    check_renders(translate::error_response(request("x"), p, r, 1700000000));
  }
  return 0;
}
