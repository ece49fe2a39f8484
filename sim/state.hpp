#pragma once
// The sim's world: devices (clients) with their CIK, dataports and aliases, and the provisioning
// content per vendor/model. Plain values, no I/O; the server owns one and serialises access.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gw::sim {

using clock = std::chrono::system_clock;
using time_point = clock::time_point;
using unix_seconds = std::int64_t;

inline unix_seconds to_unix(time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

struct point {
  unix_seconds ts = 0;
  std::string value;
  // State-wide write order: strictly increasing over every point ever stored, so it is also
  // monotonic per dataport. It orders points within one second, where timestamps tie.
  std::uint64_t seq = 0;
};

// Whether `p` counts as newer than If-Modified-Since / `since` for a wait that began when the
// last sequence number was `seq_at_start`: a later second, or a write that arrived after the wait
// began in the very second it names. Several writes per second happen in tests; timestamps alone
// would hide a write made in the second the poll started.
inline bool is_newer(const point& p, unix_seconds since, std::uint64_t seq_at_start) {
  return p.ts > since || (p.seq > seq_at_start && p.ts == since);
}

struct dataport {
  std::string rid;  // 40 lower-case hex
  std::string name;
  std::string format = "string";
  unix_seconds created = 0;
  std::vector<point> points;  // ordered by (ts, seq)

  const point* latest() const { return points.empty() ? nullptr : &points.back(); }
};

struct device {
  std::string vendor;
  std::string model;
  std::string sn;
  std::string cik;  // 40 lower-case hex; empty while awaiting activation
  bool enabled = true;
  std::string rid;
  unix_seconds created = 0;
  std::map<std::string, dataport> resources;   // by RID
  std::map<std::string, std::string> aliases;  // alias -> RID

  bool activated() const { return !cik.empty(); }
};

struct content_file {
  std::string id;
  std::string type = "application/octet-stream";
  std::string meta;
  unix_seconds updated = 0;
  std::string bytes;
};

class state {
 public:
  state();

  // Building, by the loader and tests. Devices keep their address for the state's lifetime.
  device& add_device(std::string vendor, std::string model, std::string sn);
  // A dataport with a RID derived from the device's identity and the alias, so RIDs are stable
  // across runs and across activation.
  dataport& add_dataport(device& d, const std::string& alias, unix_seconds created);
  void add_content(const std::string& vendor, const std::string& model, content_file file);
  // A vendor/model with content support but no files yet.
  void declare_content(const std::string& vendor, const std::string& model);

  // Case-insensitive on the hex digits; nullptr for an unknown or empty CIK.
  device* find_by_cik(std::string_view cik);
  device* find_device(std::string_view vendor, std::string_view model, std::string_view sn);
  std::deque<device>& devices() { return devices_; }
  const std::deque<device>& devices() const { return devices_; }

  // nullptr when no content was ever declared for this vendor/model.
  const std::vector<content_file>* content(std::string_view vendor, std::string_view model) const;

  static dataport* find_alias(device& d, std::string_view alias);
  static dataport* find_rid(device& d, std::string_view rid);

  // Every write path (data interface, RPC write/record, seeding) goes through here: the point
  // gets the next sequence number and waiters are told.
  void append(dataport& port, unix_seconds ts, std::string value);
  // Removes points with newer_than < ts < older_than (either bound optional).
  void flush(dataport& port, std::optional<unix_seconds> newer_than,
             std::optional<unix_seconds> older_than);
  std::uint64_t last_seq() const { return seq_; }

  // RPC create: a new dataport without alias, RID from a per-state counter.
  dataport& create_dataport(device& d, std::string name, std::string format, unix_seconds now);
  // Removes a dataport and every alias that names it.
  bool drop_dataport(device& d, std::string_view rid);

  // A fresh random 40-hex CIK, unused by any device.
  std::string new_cik();
  void seed(std::uint64_t value) { rng_.seed(value); }

  // Called after every append; the server wakes its long-polls from here. Must not re-enter.
  void set_on_change(std::function<void()> callback) { on_change_ = std::move(callback); }

 private:
  std::deque<device> devices_;
  std::map<std::pair<std::string, std::string>, std::vector<content_file>> content_;
  std::uint64_t seq_ = 0;
  std::uint64_t created_count_ = 0;
  std::mt19937_64 rng_;
  std::function<void()> on_change_;
};

// 40 lower-case hex characters of SHA-1 over `text`; the sim's RIDs.
std::string derive_rid(std::string_view text);
// Lower-cases ASCII letters.
std::string to_lower(std::string_view text);
bool is_hex40(std::string_view text);

}  // namespace gw::sim
