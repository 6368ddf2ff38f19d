#pragma once
/// What-if sweeps (`hpsim plan --set KEY=V1,V2 ...`): a grid over cluster, model and batch fields, searched point
/// by point.
#include <optional>
#include <string>
#include <vector>

#include "apps/plan_inputs.hpp"
#include "planner/search.hpp"
#include "planner/whole_run.hpp"

namespace hpsim::apps {

/// One `--set KEY=V1,V2,...`.
struct SweepAxis {
  std::string key;
  std::vector<std::string> values;
};

/// Parses the --set arguments; unknown keys and empty lists are InputErrors naming --set.
std::vector<SweepAxis> parse_sweep(const std::vector<std::string>& sets);

/// `base` with one value per axis applied: cluster keys through the cluster mapping (preset or file + overrides),
/// model keys through the model mapping, batch keys on the search space. Bad values are InputErrors naming the key.
PlanInputs apply_point(const PlanInputs& base, const std::vector<SweepAxis>& axes,
                       const std::vector<std::string>& values);

struct SweepPoint {
  std::vector<std::string> values;        ///< one per axis
  std::optional<planner::SearchResult> search;  ///< absent when nothing fits or no plan keeps the rules
  std::string note;                       ///< why there is no plan ("no plan fits (needs 93.1 GiB)")
  std::optional<planner::WholeRun> whole_run;  ///< the best plan's, with --train-tokens
};

/// Every point of the grid (first axis slowest), each searched for its best plans; a point without a plan gets a
/// note instead of ending the sweep. Shows one progress bar over the whole sweep.
std::vector<SweepPoint> run_sweep(const PlanInputs& base, const std::vector<SweepAxis>& axes,
                                  planner::SearchOptions options);

}  // namespace hpsim::apps
