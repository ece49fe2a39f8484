#pragma once
// The point an Observe registration showed, per resource: its upstream time and value. The
// registration's read records it (one upstream answer gives both, so they belong together), and
// the long-poll that starts for the resource polls from it: the point the registration answer
// already carried is not notified again (RFC 7641 §3.2: a notification is a newer state).
#include <cstdint>
#include <optional>
#include <string>

#include "gateway/core/clock.hpp"
#include "gateway/core/resource_key.hpp"
#include "runner/expiring_map.hpp"

namespace gw::runner {

struct observed_point {
  std::int64_t time = 0;  // upstream Unix seconds (Last-Modified)
  std::string value;
  friend bool operator==(const observed_point&, const observed_point&) = default;
};

class observed_points {
 public:
  // A registration's point is wanted only until its long-poll starts: moments, normally.
  static constexpr auto keep = std::chrono::seconds(60);

  explicit observed_points(std::size_t max_entries = 100000) : points_(max_entries) {}

  void remember(const core::resource_key& r, observed_point p, core::time_point now) {
    points_.store(key(r), std::move(p), now + keep);
  }
  std::optional<observed_point> find(const core::resource_key& r, core::time_point now) {
    if (const auto* p = points_.find(key(r), now)) return *p;
    return std::nullopt;
  }

 private:
  static std::string key(const core::resource_key& r) { return r.cik + '\0' + r.alias; }
  expiring_map<observed_point> points_;
};

}  // namespace gw::runner
