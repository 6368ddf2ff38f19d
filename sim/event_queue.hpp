#pragma once
/// A priority queue of events ordered by (time, sequence number): equal times pop in insertion order.
#include <array>
#include <cstdint>
#include <vector>

#include "core/units.hpp"

namespace hpsim::sim {

struct Event {
  core::Time time;
  std::uint64_t sequence = 0;
  std::uint32_t payload = 0;
};

/// A radix heap over integer times (a discrete-event simulation never schedules before "now", so times are
/// monotone): amortised O(log range) with sequential memory access, much faster than a binary heap at large
/// sizes. A push earlier than the last popped time is still correct: it goes to a small binary heap that pops first.
class EventQueue {
 public:
  void push(core::Time time, std::uint32_t payload);
  /// Precondition: !empty().
  Event pop();
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] std::size_t size() const { return size_; }
  /// A hint: capacity for about n pending events.
  void reserve(std::size_t n) { buckets_[0].reserve(n); }

 private:
  static constexpr std::size_t kBuckets = 65;  // bucket i: keys whose highest bit differing from last_ is i - 1
  void refill();

  std::array<std::vector<Event>, kBuckets> buckets_;
  std::size_t head_ = 0;           // bucket 0 is consumed from the front: all its keys equal last_, in push order
  std::int64_t last_ = 0;          // the key of bucket 0; no key in the buckets is smaller
  std::vector<Event> early_;       // binary heap of events pushed with time < last_ (unusual; not in simulate())
  std::size_t size_ = 0;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace hpsim::sim
