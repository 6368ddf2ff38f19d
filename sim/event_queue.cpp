#include "sim/event_queue.hpp"

#include <algorithm>
#include <bit>

namespace hpsim::sim {
namespace {

inline std::size_t bucket_of(std::int64_t key, std::int64_t last) {
  return static_cast<std::size_t>(std::bit_width(static_cast<std::uint64_t>(key ^ last)));
}

// std heap functions build a max-heap: "less" means "pops later".
inline bool pops_later(const Event& a, const Event& b) {
  return a.time.ns > b.time.ns || (a.time.ns == b.time.ns && a.sequence > b.sequence);
}

}  // namespace

void EventQueue::push(core::Time time, std::uint32_t payload) {
  const Event e{time, next_sequence_++, payload};
  ++size_;
  if (time.ns < last_) {
    early_.push_back(e);
    std::push_heap(early_.begin(), early_.end(), pops_later);
    return;
  }
  buckets_[bucket_of(time.ns, last_)].push_back(e);
}

Event EventQueue::pop() {
  --size_;
  // Everything in early_ is earlier than last_, which is no later than anything in the buckets.
  if (!early_.empty()) {
    std::pop_heap(early_.begin(), early_.end(), pops_later);
    const Event e = early_.back();
    early_.pop_back();
    return e;
  }
  if (head_ == buckets_[0].size()) refill();
  return buckets_[0][head_++];
}

// Bucket 0 is exhausted: move the smallest non-empty bucket's events down, keyed on its minimum. All lower buckets
// are empty at this point, and events keep their relative order, so each bucket stays in push order and equal
// times pop first-in first-out.
void EventQueue::refill() {
  buckets_[0].clear();
  head_ = 0;
  std::size_t i = 1;
  while (buckets_[i].empty()) ++i;
  auto& source = buckets_[i];
  std::int64_t min = source.front().time.ns;
  for (const Event& e : source) min = std::min(min, e.time.ns);
  last_ = min;
  for (const Event& e : source) buckets_[bucket_of(e.time.ns, last_)].push_back(e);
  source.clear();
}

}  // namespace hpsim::sim
