#pragma once
// A min-heap of (deadline, key) with lazy cancellation: owners re-check their own state when a
// key comes due, so cancelling is free and re-arming just pushes again. One per concern.
#include <optional>
#include <queue>
#include <vector>

#include "gateway/core/clock.hpp"

namespace gw::core {

template <class Key>
class deadline_queue {
 public:
  void push(time_point at, Key key) { heap_.push(entry{at, seq_++, std::move(key)}); }

  std::optional<time_point> next() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.top().at;
  }

  // Removes and returns every key due at or before `now`, earliest first.
  std::vector<Key> take_due(time_point now) {
    std::vector<Key> due;
    while (!heap_.empty() && heap_.top().at <= now) {
      due.push_back(heap_.top().key);
      heap_.pop();
    }
    return due;
  }

  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }

 private:
  struct entry {
    time_point at;
    std::uint64_t seq;  // keeps equal deadlines in insertion order
    Key key;
    bool operator>(const entry& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  std::priority_queue<entry, std::vector<entry>, std::greater<entry>> heap_;
  std::uint64_t seq_ = 0;
};

}  // namespace gw::core
