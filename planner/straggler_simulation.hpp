#pragma once
/// Stragglers simulated: slow GPUs placed on a job's ranks (the cluster's fixed list, plus seeded draws of slow
/// nodes), each placement simulated with every GPU (RankMode::full) so that a slow GPU delays its TP group, its
/// pipeline neighbours and every data-parallel collective; the spread of the step time and the share lost. The
/// closed form (stragglers.hpp) stands in when sampling would cost too much. docs/whole_run.md describes both.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "planner/cost_cache.hpp"
#include "planner/step_simulation.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::planner {

/// The step time under stragglers, over the sampled placements of slow GPUs.
struct StragglerStats {
  bool simulated = false;  ///< false: the closed form's quick estimate (sampling would have cost too much)
  double healthy_step_s = 0;
  double mean_step_s = 0;
  double p50_step_s = 0;   ///< nearest-rank percentiles over the samples
  double p99_step_s = 0;
  double loss = 0;         ///< the share of time lost: 1 - healthy step / mean step
  std::int64_t samples = 0;     ///< placements drawn (1 when only a fixed list is stated)
  std::int64_t simulations = 0; ///< distinct placements simulated (a placement without a slow GPU needs none)
  std::uint64_t seed = 0;
};

/// The draws' seed: fixed, so that the same inputs print the same figures on every platform.
inline constexpr std::uint64_t kStragglerSeed = 20240714;
/// Tasks the sampling may simulate in all for one plan (each placement simulates every GPU: about the
/// representative graph's tasks times tp*cp*dp); beyond it the closed form is used. About ten seconds of simulation.
inline constexpr double kMaxStragglerTasks = 3e7;

/// Whether the cluster states any straggler (a fixed list, or a fraction of slow nodes that are slower).
bool has_stragglers(const topologies::RunConditions& run);

/// The slowdown of each GPU of a job of `gpus` (rank r on node r / gpus_per_node, GPU r % gpus_per_node, as the
/// collectives place them): the fixed list's, and slow_node_slowdown on `drawn_nodes`; the largest where several
/// apply, 1 elsewhere. Entries beyond the job's GPUs do not concern it.
std::vector<double> rank_slowdowns(const topologies::ClusterSpec& cluster, std::int64_t gpus,
                                   std::span<const std::int64_t> drawn_nodes);

/// The quick estimate without simulating (stragglers.hpp's closed form, from the fixed list's slowest GPU and the
/// chance that a drawn node is slow); a zero loss when the cluster states no straggler.
StragglerStats straggler_estimate(const StepResult& healthy, const topologies::ClusterSpec& cluster);

/// `healthy` (simulate_step's result for a plan of `cache`'s scenario) under the cluster's stragglers: the fixed
/// list in every sample, and straggler_samples seeded draws of slow nodes (each node of the job slow with chance
/// slow_node_fraction). Nullopt when the cluster states no straggler.
std::optional<StragglerStats> simulate_stragglers(CostCache& cache, const StepResult& healthy,
                                                  double max_tasks = kMaxStragglerTasks);

}  // namespace hpsim::planner
