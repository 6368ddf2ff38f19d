#include "apps/whole_run_plans.hpp"

#include <algorithm>
#include <numeric>

#include "core/error.hpp"
#include "planner/cost_cache.hpp"
#include "planner/straggler_simulation.hpp"

namespace hpsim::apps {

RankBy rank_by_flag(const std::string& text) {
  if (text == "step-time") return RankBy::step_time;
  if (text == "time-to-train") return RankBy::time_to_train;
  throw core::InputError("command line", "--rank-by", "expected step-time or time-to-train, got '" + text + "'");
}

std::vector<planner::WholeRun> whole_runs(const PlanInputs& in, const std::vector<planner::StepResult>& plans,
                                          double train_tokens) {
  const planner::Scenario scenario(in.model, in.cluster);
  planner::CostCache cache(scenario);  // shared by the plans' straggler simulations
  std::vector<planner::WholeRun> runs;
  for (const auto& r : plans)
    runs.push_back(planner::whole_run(r, in.model, in.cluster, train_tokens, planner::simulate_stragglers(cache, r)));
  return runs;
}

bool time_to_train_pool_suffices(const planner::SearchResult& result, const std::vector<planner::WholeRun>& runs,
                                 std::size_t top, std::size_t pool) {
  if (result.plans.size() < pool || runs.empty()) return true;  // the pool is every feasible plan
  std::vector<double> expected;
  for (const auto& r : runs) expected.push_back(r.expected_s);
  std::sort(expected.begin(), expected.end());
  const double kth = expected[std::min(top, expected.size()) - 1];
  const double beyond_s = static_cast<double>(runs.front().steps) * result.plans.back().step_time.value();
  return kth <= beyond_s;
}

void rank_by_time_to_train(planner::SearchResult& result, std::vector<planner::WholeRun>& runs, std::size_t top) {
  std::vector<std::size_t> order(runs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return runs[a].expected_s < runs[b].expected_s; });
  order.resize(std::min(order.size(), top));
  std::vector<planner::StepResult> plans;
  std::vector<planner::WholeRun> ranked;
  for (std::size_t i : order) {
    plans.push_back(result.plans[i]);
    ranked.push_back(runs[i]);
  }
  result.plans = std::move(plans);
  runs = std::move(ranked);
}

void add_sweep_whole_runs(const PlanInputs& base, const std::vector<SweepAxis>& axes, std::vector<SweepPoint>& points,
                          double train_tokens) {
  for (auto& p : points) {
    if (!p.search || p.search->plans.empty()) continue;
    const PlanInputs in = apply_point(base, axes, p.values);
    p.whole_run = whole_runs(in, {p.search->plans.front()}, train_tokens).front();
  }
}

}  // namespace hpsim::apps
