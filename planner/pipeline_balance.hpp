#pragma once
/// The pipeline split hpsim chooses when a plan gives no split key and pp*vpp does not divide the layers: among the
/// splits Megatron-LM allows (the embedding and/or the loss accounted as a layer slot; first/last stage layer counts),
/// the one whose slowest pipeline stage is fastest, as a framework's user balances it. The embedding and the LM head
/// are not free: stages are compared by their work per micro-batch, not by their layer counts.
#include <cstdint>

#include "planner/cost_cache.hpp"
#include "planner/plan.hpp"
#include "planner/step_costs.hpp"

namespace hpsim::planner {

/// A determined split's balance, per micro-batch: its slowest pipeline stage (all of a rank's virtual stages), then
/// its slowest virtual stage. Smaller is better, compared in that order.
struct SplitBalance {
  double slowest_stage_s = 0;
  double slowest_virtual_stage_s = 0;
  [[nodiscard]] bool better_than(const SplitBalance& other) const {
    if (slowest_stage_s != other.slowest_stage_s) return slowest_stage_s < other.slowest_stage_s;
    return slowest_virtual_stage_s < other.slowest_virtual_stage_s;
  }
};

/// The balance of the plan's (determined) split with these unit costs.
SplitBalance split_balance(const Plan& plan, std::int64_t num_layers, const PipelineUnitCosts& units);

/// `plan` with the split keys of the balanced split set; unchanged when its split is determined or none exists.
/// Candidates: embedding and loss accounted, either alone, then for each middle-stage count the first/last counts
/// nearest balance (a stage's work is linear in its layers, so the best first count is one of the two multiples of
/// vpp around the balance point): O(layers / (vpp * (pp - 2))) candidates of O(pp * vpp) each. On a tie the earlier
/// candidate wins: the accounted forms (Megatron-Bridge's recipes) before first/last counts.
Plan balanced_split(Plan plan, std::int64_t num_layers, const PipelineUnitCosts& units);

/// The split a plan without one gets: on a mixed cluster (unless its scenario asks otherwise) layers by stage speed
/// (mixed_cluster.hpp), else homogeneous_pipeline_split.
Plan with_pipeline_split(CostCache& cache, const Plan& plan);

/// balanced_split with the unit costs of the plan from the cache; the plan itself when its split is determined.
Plan homogeneous_pipeline_split(CostCache& cache, const Plan& plan);

}  // namespace hpsim::planner
