// Ranking by time to train is exact: the pool of plans by step time grows until no plan beyond it could enter.
#include <doctest/doctest.h>

#include <vector>

#include "apps/whole_run_plans.hpp"
#include "planner/search.hpp"
#include "planner/whole_run.hpp"

using namespace hpsim;

TEST_CASE("cli: the time-to-train pool grows until no plan beyond it could enter the ranking") {
  // Two plans by step time (10 s, 12 s), 100 steps each; the pool's slowest bounds every plan beyond it at 1200 s.
  planner::SearchResult result;
  result.plans.resize(2);
  result.plans[0].step_time = core::Seconds(10);
  result.plans[1].step_time = core::Seconds(12);
  std::vector<planner::WholeRun> runs(2);
  runs[0].steps = runs[1].steps = 100;
  runs[0].expected_s = 1100;  // within 1200: nothing beyond can beat it
  runs[1].expected_s = 1300;
  CHECK(apps::time_to_train_pool_suffices(result, runs, 1, 2));
  // The second best (1300 s) could be beaten by a plan beyond the pool (>= 1200 s): search further.
  CHECK_FALSE(apps::time_to_train_pool_suffices(result, runs, 2, 2));
  // A pool larger than the feasible plans holds all of them.
  CHECK(apps::time_to_train_pool_suffices(result, runs, 2, 3));
}
