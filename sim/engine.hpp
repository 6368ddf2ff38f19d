#pragma once
/// The discrete-event engine: runs a TaskGraph; events ordered by (time, sequence) so results reproduce exactly.
#include <array>
#include <cstdint>
#include <vector>

#include "core/units.hpp"
#include "sim/task_graph.hpp"

namespace hpsim::sim {

struct TaskTiming {
  core::Time start;
  core::Time end;
};

struct SimResult {
  std::vector<TaskTiming> timing;  ///< indexed by TaskId
  core::Time makespan;             ///< end of the last task
  std::uint64_t events = 0;        ///< events processed
};

/// Runs every task; a cycle or a task that can never start is a std::logic_error (a lowering bug).
SimResult simulate(const TaskGraph& graph);

/// Time of `rank` from 0 to `end`, each instant given to one category: the busy foreground stream (0) first (its
/// task's category), else a busy other stream's task by category order (the vocabulary's priority), else idle. The
/// parts add up to `end`. Index: category ids, plus category_count() for idle.
std::vector<core::Time> attribute_time(const TaskGraph& graph, const SimResult& result, std::int32_t rank,
                                       core::Time end);

}  // namespace hpsim::sim
