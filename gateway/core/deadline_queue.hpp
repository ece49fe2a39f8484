#pragma once
// A min-heap of (deadline, key), one per concern. A deadline that is known dead is cancelled
// with the handle push() returned (owners that also re-check their state when a key comes due,
// as the dedup cache does, stay correct with lazy cancellation; the retransmit queue keeps one
// live deadline per key and does not): a heap full of dead deadlines costs memory (a
// dedup entry answered early would otherwise keep its EXCHANGE_LIFETIME deadline for 247 s)
// and wakes the worker for nothing when one of them is the earliest.
//
// Indexed binary heap: slots hold keys and their heap position, so cancel() is O(log n).
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "gateway/core/clock.hpp"

namespace gw::core {

template <class Key>
class deadline_queue {
 public:
  // 0 is never a live handle. A handle stays unique after its deadline is taken or cancelled
  // (a generation guards each reused slot), so cancelling a stale handle is harmless.
  using handle = std::uint64_t;

  handle push(time_point at, Key key) {
    std::uint32_t slot;
    if (free_.empty()) {
      slot = static_cast<std::uint32_t>(slots_.size());
      slots_.push_back(slot_entry{std::move(key), 0, 1});
    } else {
      slot = free_.back();
      free_.pop_back();
      slots_[slot].key = std::move(key);
    }
    heap_.push_back(node{at, seq_++, slot});
    slots_[slot].pos = heap_.size() - 1;
    sift_up(heap_.size() - 1);
    return (std::uint64_t{slots_[slot].generation} << 32) | slot;
  }

  // Removes the deadline if it is still queued; false when it was already taken or cancelled.
  bool cancel(handle h) {
    const auto slot = static_cast<std::uint32_t>(h);
    const auto generation = static_cast<std::uint32_t>(h >> 32);
    if (h == 0 || slot >= slots_.size() || slots_[slot].generation != generation) return false;
    remove_at(slots_[slot].pos);
    return true;
  }

  std::optional<time_point> next() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.front().at;
  }

  // Removes and returns every key due at or before `now`, earliest first.
  std::vector<Key> take_due(time_point now) {
    std::vector<Key> due;
    while (!heap_.empty() && heap_.front().at <= now) {
      due.push_back(std::move(slots_[heap_.front().slot].key));
      remove_at(0);
    }
    return due;
  }

  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }

 private:
  struct node {
    time_point at;
    std::uint64_t seq;  // keeps equal deadlines in insertion order
    std::uint32_t slot;
    bool before(const node& o) const { return at != o.at ? at < o.at : seq < o.seq; }
  };
  struct slot_entry {
    Key key;
    std::size_t pos;
    std::uint32_t generation;  // bumped when the slot is freed: old handles stop matching
  };

  void place(std::size_t i, node n) {
    slots_[n.slot].pos = i;
    heap_[i] = n;
  }
  void sift_up(std::size_t i) {
    node n = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!n.before(heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, n);
  }
  void sift_down(std::size_t i) {
    node n = heap_[i];
    const std::size_t size = heap_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && heap_[child + 1].before(heap_[child])) ++child;
      if (!heap_[child].before(n)) break;
      place(i, heap_[child]);
      i = child;
    }
    place(i, n);
  }
  void remove_at(std::size_t i) {
    const std::uint32_t slot = heap_[i].slot;
    ++slots_[slot].generation;
    if (slots_[slot].generation == 0) slots_[slot].generation = 1;  // keeps handle 0 unused
    slots_[slot].key = Key{};
    free_.push_back(slot);
    const node last = heap_.back();
    heap_.pop_back();
    if (i == heap_.size()) return;
    place(i, last);
    if (i > 0 && last.before(heap_[(i - 1) / 2]))
      sift_up(i);
    else
      sift_down(i);
  }

  std::vector<node> heap_;
  std::vector<slot_entry> slots_;
  std::vector<std::uint32_t> free_;
  std::uint64_t seq_ = 0;
};

}  // namespace gw::core
