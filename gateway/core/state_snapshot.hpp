#pragma once
// What the gateway carries across a restart on the same host (issue #16, docs/operations.md):
// each worker's observer relations, the last point each observed resource was notified with,
// and the unsafe requests still inside their dedup window, so that a write retransmitted
// across the restart is answered from its cached reply instead of being applied again
// (RFC 7252 §4.5). Plain values and a pure encoder/decoder; the file I/O is app/state_file.
//
// Times are wall-clock milliseconds since the Unix epoch: steady time does not survive the
// process. The endpoint converts with the wall offset the server gives it.
//
// The file format (all integers big-endian):
//   magic "CGWSTATE" (8) | version u32 | payload length u64 | payload | CRC-32 of the payload u32
// A decoder reading a foreign version, a wrong length or a wrong checksum refuses the whole
// file: a snapshot is all or nothing. Even a well-formed file is untrusted input (anyone with
// write access to the state directory could have made it): the endpoint applies the same limits
// to what it restores as to a fresh registration.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "gateway/coap/message.hpp"
#include "gateway/core/peer.hpp"
#include "gateway/core/resource_key.hpp"

namespace gw::core {

// One observer relation (RFC 7641 §4.1: resource, client endpoint, token).
struct observer_record {
  core::peer peer;
  coap::bytes token;
  resource_key resource;
  std::optional<std::uint32_t> observe;  // the last Observe number sent
  std::uint8_t szx = 6;                  // Block2 size of its notifications
  std::int64_t last_sent_ms = 0;         // registration or last notification, wall clock
  // The client had proven it receives at its address (amplification.hpp): without it, a
  // restored observer with the bound on would get nothing until it sent something again.
  bool verified = false;
  // An unverified client's amplification budget left at the snapshot (factor x received -
  // sent): the next process owes it no more than this one did, and no less, so an observer that
  // never had a CON to ACK still gets the notification it is waiting for.
  std::uint32_t budget = 0;
  friend bool operator==(const observer_record&, const observer_record&) = default;
};

// An observed resource: its latest representation (what a Max-Age refresh sends) and the
// upstream point it shows, from which the long-poll resumes.
struct resource_record {
  resource_key resource;
  coap::bytes latest;                      // an encoded CoAP message: code, options and payload
  std::optional<std::int64_t> point_time;  // upstream Last-Modified, Unix seconds
  std::string point_value;
  friend bool operator==(const resource_record&, const resource_record&) = default;
};

// An answered unsafe request still inside its dedup window.
struct request_record {
  core::peer peer;
  std::uint16_t mid = 0;
  std::uint64_t fingerprint = 0;  // request_fingerprint under the snapshot's hash key
  coap::bytes reply;
  std::int64_t arrived_ms = 0;
  std::int64_t expires_ms = 0;
  friend bool operator==(const request_record&, const request_record&) = default;
};

struct worker_snapshot {
  std::vector<observer_record> observers;
  std::vector<resource_record> resources;
  std::vector<request_record> requests;
  friend bool operator==(const worker_snapshot&, const worker_snapshot&) = default;
};

struct gateway_snapshot {
  std::int64_t written_ms = 0;
  // The settings the snapshot is only valid under (with SO_REUSEPORT the kernel picks a peer's
  // worker from the sockets, so a relation belongs to worker i only with the same sockets).
  std::string listen;  // coap.listen as bound, "host:port" joined by spaces
  std::uint32_t workers = 0;
  // The key request fingerprints were computed under (base/keyed_hash.hpp). A restore adopts
  // it as the new process's key, or no restored fingerprint could match a retransmission.
  std::array<std::uint8_t, 16> hash_key{};
  std::vector<worker_snapshot> per_worker;
  friend bool operator==(const gateway_snapshot&, const gateway_snapshot&) = default;
};

inline constexpr std::uint32_t snapshot_version = 2;

enum class snapshot_error {
  truncated = 1,    // shorter than its header or its declared length
  bad_magic,        // not a state file
  foreign_version,  // written by another format version
  bad_checksum,     // damaged
  malformed,        // well framed, but a field does not decode or bytes are left over
};
const boost::system::error_category& snapshot_category();
inline boost::system::error_code make_error_code(snapshot_error e) {
  return {static_cast<int>(e), snapshot_category()};
}

coap::bytes encode_snapshot(const gateway_snapshot& s);
// Never throws, whatever the input.
boost::system::result<gateway_snapshot> decode_snapshot(std::span<const std::uint8_t> data);

// CRC-32 (ISO-HDLC, the one of zlib and PNG): a checksum against damage, not a MAC.
std::uint32_t crc32(std::span<const std::uint8_t> data);

}  // namespace gw::core

template <>
struct boost::system::is_error_code_enum<gw::core::snapshot_error> : std::true_type {};
