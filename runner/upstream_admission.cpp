#include "runner/upstream_admission.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace gw::runner {

std::string_view to_string(shed_reason reason) {
  switch (reason) {
    case shed_reason::source_share:
      return "source_share";
    case shed_reason::safe_shed:
      return "safe_shed";
    case shed_reason::full:
      return "full";
  }
  return "unknown";
}

upstream_admission::ticket::ticket(ticket&& other) noexcept
    : gate_(std::exchange(other.gate_, nullptr)), source_(other.source_) {}

upstream_admission::ticket& upstream_admission::ticket::operator=(ticket&& other) noexcept {
  if (this != &other) {
    release();
    gate_ = std::exchange(other.gate_, nullptr);
    source_ = other.source_;
  }
  return *this;
}

upstream_admission::ticket::~ticket() {
  release();
}

void upstream_admission::ticket::release() noexcept {
  if (gate_ != nullptr) std::exchange(gate_, nullptr)->release(source_);
}

namespace {
std::size_t fraction_of(double fraction, std::size_t capacity) {
  return static_cast<std::size_t>(
      std::floor(std::clamp(fraction, 0.0, 1.0) * static_cast<double>(capacity)));
}
}  // namespace

std::size_t upstream_admission::per_source_limit() const {
  // At least a few at once: a device with a write and a read or two in flight is not an abuser,
  // even on a lane with a tiny queue.
  return std::max<std::size_t>(4, fraction_of(options_.per_source_share, options_.capacity));
}

std::size_t upstream_admission::safe_limit() const {
  const auto reserve = fraction_of(options_.unsafe_reserve, options_.capacity);
  return options_.capacity - std::min(reserve, options_.capacity);
}

std::optional<upstream_admission::ticket> upstream_admission::admit(
    const std::optional<core::address_key>& source, bool safe, shed_reason* why) {
  auto refuse = [&](shed_reason r) -> std::optional<ticket> {
    ++refused_[static_cast<std::size_t>(r)];
    if (why != nullptr) *why = r;
    return std::nullopt;
  };
  if (admitted_ >= options_.capacity) return refuse(shed_reason::full);
  if (safe && admitted_ >= safe_limit()) return refuse(shed_reason::safe_shed);
  if (source) {
    auto it = by_source_.find(*source);
    const std::size_t held = it == by_source_.end() ? 0 : it->second;
    if (held >= per_source_limit()) return refuse(shed_reason::source_share);
    if (it == by_source_.end())
      by_source_.emplace(*source, 1);
    else
      ++it->second;
  }
  ++admitted_;
  return ticket(*this, source);
}

void upstream_admission::release(const std::optional<core::address_key>& source) noexcept {
  --admitted_;
  if (!source) return;
  auto it = by_source_.find(*source);
  if (it != by_source_.end() && --it->second == 0) by_source_.erase(it);
}

admission_stats upstream_admission::stats() const {
  admission_stats s;
  s.refused = refused_;
  s.admitted = admitted_;
  s.addresses = by_source_.size();
  return s;
}

}  // namespace gw::runner
