#pragma once
// The per-CIK write limit (issue #13), off by default. Exosite's data interface treats writes to
// one dataport faster than once a second as undefined (reference/upstream-http-api.md), so a
// gateway in front of many devices may hold each one to a rate: a token bucket per CIK and
// alias (or per CIK), in writes per second with a burst. Over it, the write is answered 4.29
// with Max-Age (RFC 8516), the time until a token is back, and costs no upstream call.
//
// This is the one place the runner decides on it; Write and the writes of Multiple Read/Write
// both ask. Buckets are bounded (the least recently stored goes first; a forgotten bucket is a
// full one) and drop out once refilled.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "gateway/core/clock.hpp"
#include "runner/expiring_map.hpp"

namespace gw::runner {

struct write_limit_options {
  double rate = 0;  // writes per second per key; 0: no limit
  double burst = 1;
  bool per_alias = true;  // the key is CIK + alias; false: CIK alone
  std::size_t max_keys = 100000;
};

class write_limiter {
 public:
  explicit write_limiter(write_limit_options options)
      : options_(options), buckets_(options.max_keys) {}
  void set_options(write_limit_options options);

  // A write of `aliases` by `cik`: takes one token from each key's bucket, or none when one of
  // them is empty. nullopt when admitted, else the Max-Age for the 4.29 (whole seconds, >= 1).
  std::optional<std::uint32_t> admit(const std::string& cik, std::span<const std::string> aliases,
                                     core::time_point now);
  std::size_t keys() const { return buckets_.size(); }

 private:
  struct bucket {
    double tokens = 0;
    core::time_point at;
  };
  double burst() const { return options_.burst < 1 ? 1 : options_.burst; }

  write_limit_options options_;
  expiring_map<bucket> buckets_;
};

}  // namespace gw::runner
