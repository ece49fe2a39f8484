#pragma once
// Shared by the block-wise layer tests (RFC 7959): request builders, block accessors and a rig
// that runs the layer against a fake handler in virtual time.
#include <catch2/catch.hpp>

#include <functional>

#include "gateway/core/block_layer.hpp"

namespace gw::test::blockwise {

using namespace gw;
using namespace std::chrono_literals;
using coap::block_value;
using core::time_point;

inline const core::peer client{0, false, {127, 0, 0, 1}, 40000};
inline const core::peer other_client{0, false, {127, 0, 0, 2}, 40000};

inline coap::bytes body(std::size_t n, std::uint8_t salt = 0) {
  coap::bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * 7 + salt) % 251);
  return b;
}

inline coap::message request(coap::code method, std::string_view path, coap::bytes payload = {},
                             coap::bytes token = {0x01}) {
  coap::message m;
  m.code = method;
  m.token = std::move(token);
  m.add_option(coap::opt::uri_path, path);
  m.payload = std::move(payload);
  return m;
}

inline coap::message with(coap::message m, std::uint16_t number, block_value block) {
  m.set_option(number, coap::encode_block(block));
  return m;
}

// Block NUM of `whole` at 2^(szx+4) bytes as a Block1 request; M set when bytes follow.
inline coap::message part(std::string_view path, const coap::bytes& whole, std::uint32_t num,
                          std::uint8_t szx, coap::bytes token = {0x01}) {
  const block_value b{num, false, szx};
  const std::size_t from = std::min(b.offset(), whole.size());
  const std::size_t to = std::min(b.offset() + b.size(), whole.size());
  auto m = request(coap::codes::post, path,
                   coap::bytes(whole.begin() + static_cast<std::ptrdiff_t>(from),
                               whole.begin() + static_cast<std::ptrdiff_t>(to)),
                   std::move(token));
  return with(std::move(m), coap::opt::block1, {num, to < whole.size(), szx});
}

inline std::optional<block_value> block_of(const coap::message& m, std::uint16_t number) {
  const auto* o = m.find(number);
  if (o == nullptr) return std::nullopt;
  return coap::decode_block(o->value);
}

inline coap::bytes etag_of(const coap::message& m) {
  const auto* o = m.find(coap::opt::etag);
  return o == nullptr ? coap::bytes{} : o->value;
}

inline coap::bytes slice(const coap::bytes& b, std::size_t offset, std::size_t length) {
  return coap::bytes(b.begin() + static_cast<std::ptrdiff_t>(offset),
                     b.begin() + static_cast<std::ptrdiff_t>(offset + length));
}

// The layer plus a handler that answers every forwarded request with `handler(request)`.
struct rig {
  core::block_layer layer;
  time_point t0{std::chrono::hours(1)};
  std::function<coap::message(const coap::message&)> handler;
  std::vector<coap::message> handled;  // what the handler saw

  explicit rig(core::block_options options = {}, std::uint32_t busy_max_age_s = 5)
      : layer(options, busy_max_age_s) {}

  coap::message exchange(coap::message req, time_point now, const core::peer& from = client) {
    auto result = layer.on_request(from, std::move(req), now);
    if (auto* a = std::get_if<core::block_layer::answer>(&result)) return a->response;
    auto& fw = std::get<core::block_layer::forward>(result);
    handled.push_back(fw.request);
    return layer.on_response(from, fw, handler(fw.request), now);
  }
  std::size_t forwards() const { return handled.size(); }
};

// A handler answering 2.05 with `payload`, Content-Format and Max-Age.
inline std::function<coap::message(const coap::message&)> serve(
    const coap::bytes& payload, coap::code code = coap::codes::content) {
  return [payload, code](const coap::message& req) {
    auto r = coap::make_response(req, code);
    r.add_uint_option(coap::opt::content_format, 60);
    r.add_uint_option(coap::opt::max_age, 30);
    r.payload = payload;
    return r;
  };
}

inline core::block_options with_block_size(std::size_t size) {
  core::block_options o;
  o.block_size = size;
  return o;
}

}  // namespace gw::test::blockwise
