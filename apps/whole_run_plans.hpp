#pragma once
/// `plan --train-tokens`: the whole run of each listed plan (its stragglers simulated), of each sweep point's best
/// plan, and the ranking by time to train (`--rank-by time-to-train`).
#include <string>
#include <vector>

#include "apps/plan_inputs.hpp"
#include "apps/what_if.hpp"
#include "planner/search.hpp"
#include "planner/whole_run.hpp"

namespace hpsim::apps {

/// What `--rank-by` orders the plans by.
enum class RankBy { step_time, time_to_train };

/// "step-time" or "time-to-train"; else an InputError naming --rank-by.
RankBy rank_by_flag(const std::string& text);

/// The whole run of each of `plans` (searched on `in`) for `train_tokens`, the cluster's stragglers simulated.
std::vector<planner::WholeRun> whole_runs(const PlanInputs& in, const std::vector<planner::StepResult>& plans,
                                          double train_tokens);

/// Whether the `top` plans by expected days among `result.plans` (the best `pool` by step time, with their `runs`)
/// are the best of the whole space: every plan beyond the pool steps no faster than the pool's slowest, and a run
/// takes at least its steps at its step time, so none can beat the `top`-th expected time once that bound is
/// above it (or when the pool holds every feasible plan).
bool time_to_train_pool_suffices(const planner::SearchResult& result, const std::vector<planner::WholeRun>& runs,
                                 std::size_t top, std::size_t pool);

/// Reorders `result.plans` and `runs` (one per plan) by expected days, shortest first (ties: the step-time order),
/// and keeps the first `top`.
void rank_by_time_to_train(planner::SearchResult& result, std::vector<planner::WholeRun>& runs, std::size_t top);

/// Sets each sweep point's whole run: its best plan on the point's model and cluster.
void add_sweep_whole_runs(const PlanInputs& base, const std::vector<SweepAxis>& axes, std::vector<SweepPoint>& points,
                          double train_tokens);

}  // namespace hpsim::apps
