#pragma once
/// The HTML page of `hpsim plan --html FILE`: the best plan's simulated step (timeline per rank and stream), and for
/// the ranked plans (or the best plan of each sweep point) the step-time breakdown, memory per GPU and a scatter of
/// step time vs memory.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/plan_inputs.hpp"
#include "apps/what_if.hpp"
#include "planner/search.hpp"
#include "planner/whole_run.hpp"

namespace hpsim::apps {

/// Short text of a plan's searched fields: "tp 8 pp 4 vpp 5 dp 2 mbs 1 selective sp zero 1".
std::string html_plan_label(const planner::Plan& plan);

/// The page for one search (the best plan is simulated again with its task graph kept); with `runs` (one per plan,
/// --train-tokens) a whole-run section.
nlohmann::json html_search_page(const PlanInputs& in, const planner::SearchResult& result,
                                const std::vector<planner::WholeRun>& runs = {});

/// The page for a what-if sweep: one entry per point that has a plan; the timeline of the fastest point's plan.
nlohmann::json html_sweep_page(const PlanInputs& in, const std::vector<SweepAxis>& axes,
                               const std::vector<SweepPoint>& points);

}  // namespace hpsim::apps
