#pragma once
/// The planner: an exhaustive search of the plan space, exact with respect to the simulator, made fast by
/// rejecting on rules and memory first, then branch and bound on a lower bound of the step time, shared cost
/// caches and threads.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/model_spec.hpp"
#include "planner/scenario.hpp"
#include "planner/search_space.hpp"
#include "planner/step_simulation.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::planner {

struct SearchOptions {
  std::size_t top_k = 10;
  unsigned threads = 0;     ///< 0: one per hardware thread
  bool prune = true;        ///< false: simulate every feasible plan (for tests: the answer must not change)
  /// Called now and then with the fraction done (from the searching thread).
  std::function<void(double)> progress;
  /// When set, also count the feasible plans strictly faster than this (to rank a given plan among all).
  std::optional<double> rank_time_s;
  /// false: when valid plans exist but none fits, return a result with no plans and the closest miss set.
  bool throw_if_nothing_fits = true;
};

/// The plan that came closest to fitting, when none fits.
struct ClosestMiss {
  Plan plan;
  MemoryUse memory;
};

struct SearchResult {
  std::vector<StepResult> plans;  ///< best first: step time, then the stated tie order (see rank_before)
  std::int64_t candidates = 0;    ///< combinations of field values considered within the user's bounds
  std::int64_t feasible = 0;      ///< kept every rule and fit in memory
  std::int64_t simulated = 0;     ///< simulated in full (the others could not beat the K-th best)
  std::map<std::string, std::int64_t> rejected;  ///< reason -> count ("out of memory", rule names)
  double search_time_s = 0;
  std::optional<ClosestMiss> closest_miss;  ///< set when nothing fits
  std::string why_best;                     ///< one line: why the best beats the runner-up
  std::int64_t faster_than_rank_time = 0;   ///< feasible plans faster than SearchOptions::rank_time_s
};

/// A lower bound on the simulated step time of a plan from its cost tables (the search's bound; exposed for tests).
double step_time_lower_bound_s(const StepCosts& costs, const Plan& plan);

/// Searches the space. Throws InputError when the constraints themselves are impossible (naming the rule they break)
/// and InfeasibleError when valid plans exist but none fits in memory (with the closest miss).
SearchResult search_plans(const Scenario& scenario, const SearchSpace& space, const SearchOptions& options = {});

/// The ranking: shorter step time first; ties go to less memory per GPU, then smaller tp, pp, cp, ep, vpp, larger
/// micro-batch, less recomputation, sp off, lower zero, 1f1b before gpipe.
bool rank_before(const StepResult& a, const StepResult& b);

/// One line on why `best` beats `runner_up`: the part of the step time that differs most, and the fields that differ.
std::string explain_difference(const StepResult& best, const StepResult& runner_up);

}  // namespace hpsim::planner
