#pragma once
/// Mixed clusters (topologies' node groups of different GPU types): each pipeline stage lies on one group (the rule
/// stage_straddles_node_groups) and is costed on that group's hardware, its layers chosen by the stages' speed, and
/// what the mix costs against the homogeneous alternatives. docs/mixed_clusters.md explains the model and its limits.
#include <cstdint>
#include <string>
#include <vector>

#include "planner/cost_cache.hpp"
#include "planner/memory_model.hpp"
#include "planner/plan.hpp"
#include "planner/search.hpp"
#include "planner/step_costs.hpp"

namespace hpsim::planner {

/// The node group of pipeline stage `stage`: the group of its first rank (Megatron's order, pp outermost).
std::size_t stage_group(const Plan& plan, const topologies::ClusterSpec& cluster, std::int64_t stage);

/// The cost tables on a mixed cluster (`cache.groups() > 0`): each virtual stage's chunk costed on its stage's group,
/// each boundary's send the slower of its two sides', and, one value for every stage as the step graph takes them,
/// the data-parallel collectives, the embedding's synchronization and the optimizer's rates of the slowest group.
StepCosts mixed_step_costs(CostCache& cache, const Plan& plan, CostScope scope);

/// Memory of the stage nearest to (or furthest past) its own GPU's usable memory.
MemoryUse mixed_memory_use(CostCache& cache, const Plan& plan);

/// The mean tensor-core peak of the plan's GPUs (every stage's on its group), MFU's denominator.
core::FlopsPerSecond mixed_mean_peak(CostCache& cache, const Plan& plan);

/// Layers per pipeline stage that make the slowest stage's work per micro-batch least: each stage's work is its
/// layers times its group's time for one layer, plus the embedding (first stage) or the LM head and loss (last).
/// Layers go vpp at a time, each to the stage that is then least loaded, starting from vpp each: for costs that grow
/// with the layers this greedy order gives the least maximum (an exchange argument). Empty when no such split
/// exists (vpp not dividing the layers, or fewer than pp*vpp of them).
std::vector<std::int64_t> speed_split_layers(std::int64_t num_layers, std::int64_t vpp,
                                             const std::vector<PipelineUnitCosts>& stage_units);

/// `plan` with pipeline_layers chosen by speed (speed_split_layers with each stage's group's unit costs); unchanged
/// when it gives a split key or no split exists.
Plan with_speed_split(CostCache& cache, const Plan& plan);

/// What the mix costs: the best plan found on the mixed cluster beside the best with the layers split as on a
/// homogeneous cluster (even, or Megatron-LM's balanced split) and the best on the same nodes all of one group's type.
struct MixedClusterComparison {
  double step_s = 0;             ///< the speed-aware plan (the search's best)
  double even_split_step_s = 0;  ///< 0: no plan with a homogeneous split fits
  std::string even_split_plan;   ///< plan_summary_text of that plan
  struct Homogeneous {
    std::string gpu;
    std::int64_t nodes = 0;
    double step_s = 0;  ///< 0: nothing fits
  };
  std::vector<Homogeneous> homogeneous;  ///< one per GPU type of the groups, in group order
};

/// Searches the alternatives of `scenario`'s mixed cluster within `space` (each a search of its own, top 1) and sets
/// them beside `best`, the mixed search's best step time.
MixedClusterComparison compare_mixed_cluster(const Scenario& scenario, const SearchSpace& space,
                                             const SearchOptions& options, double best_step_s);

}  // namespace hpsim::planner
