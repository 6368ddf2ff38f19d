#pragma once
/// Lowers one training step of a plan to a sim::TaskGraph: the pipeline schedule's passes on each rank's compute
/// stream, exposed TP/CP/EP communication after each pass, pipeline sends, data-parallel gradient reduction
/// (bucketed and overlapped with the last backward when the plan says so), ZeRO gathers and the optimizer step.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "planner/plan.hpp"
#include "planner/step_costs.hpp"
#include "sim/task_graph.hpp"

namespace hpsim::planner {

/// The streams of a simulated rank: compute first (the foreground stream), then one per kind of communication.
enum class Stream : sim::StreamId { compute, tp_comm, pp_comm, dp_comm };
/// What a task's time counts as in the step-time breakdown, in the priority order of exposed time.
enum class Category : sim::CategoryId { compute, recompute, tp_comm, cp_comm, ep_comm, pp_comm, dp_comm, optimizer, other };
/// The names of both, as the task graph and its trace use them.
const sim::Vocabulary& step_vocabulary();
std::string_view to_string(Category c);

enum class RankMode {
  representative,  ///< one simulated rank per pipeline stage: cost independent of dp, tp, cp
  full,            ///< every GPU, collectives synchronized across their groups (small clusters; a cross-check)
};

struct StepGraph {
  sim::TaskGraph graph{step_vocabulary()};
  std::vector<std::int64_t> stage_of_rank;  ///< simulated rank -> pipeline stage
};

/// `named`: give tasks readable names (for a trace); unnamed graphs build faster. `rank_slowdown`: empty, or one
/// factor per GPU (global rank) on its compute tasks' durations (a straggler), with `mode` full.
StepGraph build_step_graph(const StepCosts& costs, const Plan& plan, RankMode mode, bool named = true,
                           std::span<const double> rank_slowdown = {});

}  // namespace hpsim::planner
