// The state file's format (gateway/core/state_snapshot.hpp): a round trip, and every damaged
// form refused as a whole, never half-read and never thrown on.
#include <catch2/catch.hpp>

#include "gateway/core/state_snapshot.hpp"

using namespace gw;

namespace {

core::gateway_snapshot sample() {
  core::gateway_snapshot s;
  s.written_ms = 1'764'000'000'123;
  s.listen = "0.0.0.0:5683 :::5683";
  s.workers = 2;
  for (std::uint8_t i = 0; i < 16; ++i) s.hash_key[i] = static_cast<std::uint8_t>(i * 7);
  core::worker_snapshot w0;
  core::peer p{1, true, {0x20, 0x01, 0x0d, 0xb8}, 5683};
  w0.observers.push_back(
      {p, {0xAB, 0xCD}, {std::string(40, 'a'), "temp"}, 0x123456, 6, 1'764'000'000'000, true});
  w0.observers.push_back({p, {}, {std::string(40, 'b'), "hum"}, std::nullopt, 2, -5});
  w0.resources.push_back({{std::string(40, 'a'), "temp"}, {0x40, 0x45, 0, 0}, 1'764'000'000, "21"});
  w0.resources.push_back({{std::string(40, 'b'), "hum"}, {}, std::nullopt, ""});
  w0.requests.push_back({p, 0x3737, 0xFEEDFACECAFEBEEFULL, {0x60, 0x44, 0x37, 0x37}, 10, 20});
  s.per_worker.push_back(std::move(w0));
  s.per_worker.emplace_back();  // a worker with nothing
  return s;
}

}  // namespace

TEST_CASE("a snapshot decodes to what was encoded") {
  const auto s = sample();
  auto decoded = core::decode_snapshot(core::encode_snapshot(s));
  REQUIRE(decoded.has_value());
  CHECK(*decoded == s);
  CHECK(core::decode_snapshot(core::encode_snapshot({})).value() == core::gateway_snapshot{});
}

TEST_CASE("CRC-32 is the ISO-HDLC one") {
  const std::string check = "123456789";  // the catalogue's check value
  CHECK(core::crc32({reinterpret_cast<const std::uint8_t*>(check.data()), check.size()}) ==
        0xCBF43926u);
}

TEST_CASE("every truncated prefix is refused") {
  const auto bytes = core::encode_snapshot(sample());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = core::decode_snapshot(std::span(bytes.data(), n));
    INFO("prefix of " << n << " bytes");
    REQUIRE_FALSE(r.has_value());
    CHECK((r.error() == core::snapshot_error::truncated ||
           r.error() == core::snapshot_error::bad_magic));
  }
}

TEST_CASE("every flipped byte is refused") {
  const auto bytes = core::encode_snapshot(sample());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto damaged = bytes;
    damaged[i] ^= 0x5A;
    INFO("byte " << i);
    CHECK_FALSE(core::decode_snapshot(damaged).has_value());
  }
}

TEST_CASE("foreign version, foreign file, trailing bytes") {
  auto bytes = core::encode_snapshot(sample());
  auto other = bytes;
  other[11] = static_cast<std::uint8_t>(core::snapshot_version + 1);  // big-endian, after magic
  CHECK(core::decode_snapshot(other).error() == core::snapshot_error::foreign_version);
  const std::string text = "devices: []\n#  a YAML file where the state file should be";
  CHECK(core::decode_snapshot({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()})
            .error() == core::snapshot_error::bad_magic);
  auto longer = bytes;
  longer.push_back(0);
  CHECK(core::decode_snapshot(longer).error() == core::snapshot_error::malformed);
}

TEST_CASE("a well-framed payload with a count beyond its bytes is malformed, not allocated") {
  // Magic, version and length and CRC right, but the worker count claims 2^32 - 1 workers.
  coap::bytes payload(8 + 4 + 4 + 16, 0);  // written_ms, empty listen, workers, hash key
  for (int i = 0; i < 4; ++i) payload.push_back(0xFF);
  coap::bytes file{'C', 'G', 'W', 'S', 'T', 'A',
                   'T', 'E', 0,   0,   0,   static_cast<std::uint8_t>(core::snapshot_version)};
  for (int i = 7; i >= 0; --i) file.push_back(static_cast<std::uint8_t>(payload.size() >> (8 * i)));
  file.insert(file.end(), payload.begin(), payload.end());
  const auto crc = core::crc32(payload);
  for (int i = 3; i >= 0; --i) file.push_back(static_cast<std::uint8_t>(crc >> (8 * i)));
  CHECK(core::decode_snapshot(file).error() == core::snapshot_error::malformed);
}
