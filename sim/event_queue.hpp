#pragma once
/// A min-heap of events ordered by (time, sequence number): equal times pop in insertion order.
#include <cstdint>
#include <vector>

#include "core/units.hpp"

namespace hpsim::sim {

struct Event {
  core::Time time;
  std::uint64_t sequence = 0;
  std::uint32_t payload = 0;
};

class EventQueue {
 public:
  void push(core::Time time, std::uint32_t payload);
  /// Precondition: !empty().
  Event pop();
  [[nodiscard]] bool empty() const { return heap_.empty(); }
  [[nodiscard]] std::size_t size() const { return heap_.size(); }
  void reserve(std::size_t n) { heap_.reserve(n); }

 private:
  std::vector<Event> heap_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace hpsim::sim
