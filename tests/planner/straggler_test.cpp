#include <doctest/doctest.h>

#include <algorithm>

#include <yaml-cpp/yaml.h>

#include "planner/step_costs.hpp"
#include "planner/step_simulation.hpp"
#include "planner/straggler_simulation.hpp"
#include "planner/stragglers.hpp"
#include "planner/whole_run.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

topologies::ClusterSpec cluster_of(const std::string& yaml) {
  return topologies::cluster_from_fields(core::Fields(YAML::Load(yaml), "test"));
}

/// tp x dp on one pipeline stage, gradients reduced after the backward (not overlapped): a rank's step is its
/// compute and TP communication, the DP reduction, then the optimizer, one after the other.
Plan pp1_plan(std::int64_t tp) {
  Plan p;
  p.tp = tp;
  p.pp = 1;
  p.global_batch_size = 16;
  p.overlap_grad_reduce = false;
  return p;
}

struct Run {
  SimulatedStep step;
  Plan plan;
};

Run simulate(const Scenario& s, Plan plan, std::vector<double> slowdown = {}) {
  plan = resolve_plan(plan, s.model(), s.cluster(), "test");
  SimulateOptions o;
  o.keep_graph = true;
  o.rank_slowdown = std::move(slowdown);
  return {simulate_step(s, plan, o), plan};
}

/// End of `rank`'s last task of category `c`.
double last_end(const SimulatedStep& s, std::int32_t rank, Category c) {
  core::Time end{};
  for (const auto id : s.graph->graph.tasks_of_rank(rank))
    if (s.graph->graph.task(id).category == static_cast<sim::CategoryId>(c)) end = std::max(end, s.timings->timing[id].end);
  return core::to_seconds(end).value();
}

}  // namespace

TEST_CASE("stragglers: one slow GPU in a TP group of a pp1 plan paces its group and the DP-synchronized step") {
  const auto model = models::load_model("gpt-1.7b");
  const auto cluster = topologies::load_cluster("dgx-a100-80gb:1");  // 8 GPUs: tp 2 x dp 4
  const Scenario scenario(model, cluster);
  const Run healthy = simulate(scenario, pp1_plan(2));
  const auto& b = healthy.step.result.breakdown;
  const double step = healthy.step.result.step_time.value();
  const double compute = b.compute.value(), optimizer = b.other.value(), dp = b.dp_comm_exposed.value();
  REQUIRE(compute > 0);
  REQUIRE(dp > 0);
  REQUIRE(b.pp_bubble.value() == doctest::Approx(0).epsilon(1e-12));

  const double s = 1.5;
  std::vector<double> slow(8, 1.0);
  slow[0] = s;  // node 0, GPU 0: tp rank 0 of the first dp replica
  const Run straggled = simulate(scenario, pp1_plan(2), slow);
  // By hand: the slow GPU's passes and optimizer take s times as long; its TP partner waits at every blocking TP
  // collective, the other replicas wait at the DP reduction, and only the two slow-group ranks' optimizers grow.
  const double expected = step + (compute + optimizer) * (s - 1);
  CHECK(straggled.step.result.step_time.value() == doctest::Approx(expected).epsilon(1e-6));
  // Every rank of the TP group goes at the slow pace: its partner's last pass (ending in a blocking TP collective)
  // ends with the slow GPU's, after the slow compute and the TP communication.
  const double group_compute_end = compute * s + b.tp_comm_exposed.value();
  CHECK(last_end(straggled.step, 1, Category::tp_comm) == doctest::Approx(group_compute_end).epsilon(1e-6));
  CHECK(last_end(straggled.step, 0, Category::tp_comm) == doctest::Approx(group_compute_end).epsilon(1e-6));
  CHECK(last_end(healthy.step, 0, Category::tp_comm) ==
        doctest::Approx(compute + b.tp_comm_exposed.value()).epsilon(1e-6));
  // A healthy replica (ranks 2..7) finishes its DP reduction only when the slow group's does.
  const double reduced = last_end(straggled.step, 0, Category::dp_comm);
  CHECK(reduced == doctest::Approx(group_compute_end + dp).epsilon(1e-6));
  for (std::int32_t r = 2; r < 8; ++r) CHECK(last_end(straggled.step, r, Category::dp_comm) == doctest::Approx(reduced).epsilon(1e-9));
  // ... and its own optimizer at the healthy speed after it.
  CHECK(last_end(straggled.step, 5, Category::optimizer) == doctest::Approx(reduced + optimizer).epsilon(1e-6));
}

TEST_CASE("stragglers: one slow node in data parallel, as a fixed list: the DP collective waits for it") {
  const auto model = models::load_model("gpt-1.7b");
  const auto cluster = cluster_of("preset: dgx-a100-80gb:2\nslow_nodes: [{node: 1, slowdown: 1.25}]\n");
  const Scenario scenario(model, cluster);
  const Run healthy = simulate(scenario, pp1_plan(8));  // tp 8 in each node, dp 2 across them
  const auto& b = healthy.step.result.breakdown;
  const double step = healthy.step.result.step_time.value();
  const double expected = step + (b.compute.value() + b.other.value()) * 0.25;

  const auto slow = rank_slowdowns(cluster, 16, {});
  CHECK(std::count(slow.begin(), slow.end(), 1.25) == 8);
  CHECK(slow[7] == 1.0);
  CHECK(slow[8] == 1.25);
  const Run straggled = simulate(scenario, pp1_plan(8), slow);
  CHECK(straggled.step.result.step_time.value() == doctest::Approx(expected).epsilon(1e-6));
  // The healthy node's reduction starts only when the slow node's compute is done.
  const double slow_done = last_end(straggled.step, 8, Category::tp_comm);  // its last pass's blocking collective
  CHECK(slow_done == doctest::Approx(b.compute.value() * 1.25 + b.tp_comm_exposed.value()).epsilon(1e-6));
  CHECK(last_end(straggled.step, 0, Category::dp_comm) ==
        doctest::Approx(slow_done + b.dp_comm_exposed.value()).epsilon(1e-6));

  // Through the sampling: a fixed list alone is one placement, every sample the same step.
  CostCache cache(scenario);
  const auto st = simulate_stragglers(cache, healthy.step.result);
  REQUIRE(st);
  CHECK(st->simulated);
  CHECK(st->samples == 1);
  CHECK(st->simulations == 1);
  CHECK(st->p50_step_s == doctest::Approx(expected).epsilon(1e-6));
  CHECK(st->p99_step_s == doctest::Approx(expected).epsilon(1e-6));
  CHECK(st->loss == doctest::Approx(1 - step / expected).epsilon(1e-6));
  // The closed form, when sampling would cost too much, says so and paces the whole compute.
  const auto quick = simulate_stragglers(cache, healthy.step.result, 0);
  REQUIRE(quick);
  CHECK_FALSE(quick->simulated);
  CHECK(quick->mean_step_s == doctest::Approx(step + b.compute.value() * 0.25));
}

TEST_CASE("stragglers: seeded placements of slow nodes give the spread and the loss") {
  const auto model = models::load_model("gpt-1.7b");
  auto cluster = cluster_of("preset: dgx-a100-80gb:2\nslow_node_fraction: 0.5\nslow_node_slowdown: 1.5\n"
                            "straggler_samples: 64\n");
  const Scenario scenario(model, cluster);
  const Run healthy = simulate(scenario, pp1_plan(8));
  const auto& b = healthy.step.result.breakdown;
  const double step = healthy.step.result.step_time.value();
  // Either node slow, or both: the same paced step (the DP collective waits for the slower replica).
  const double paced = step + (b.compute.value() + b.other.value()) * 0.5;
  CostCache cache(scenario);
  const auto st = simulate_stragglers(cache, healthy.step.result);
  REQUIRE(st);
  CHECK(st->simulated);
  CHECK(st->samples == 64);
  CHECK(st->seed == kStragglerSeed);
  CHECK(st->simulations <= 3);  // {0}, {1}, {0, 1}: the healthy placement needs none
  // 1 - 0.5^2 = 3/4 of the placements hold a slow node: P50 and P99 are paced, the mean between.
  CHECK(st->p50_step_s == doctest::Approx(paced).epsilon(1e-6));
  CHECK(st->p99_step_s == doctest::Approx(paced).epsilon(1e-6));
  const double share = (st->mean_step_s - step) / (paced - step);  // of samples with a slow node
  CHECK(share == doctest::Approx(0.75).epsilon(0.2));
  CHECK(std::abs(share * 64 - std::round(share * 64)) < 1e-6);  // a whole number of samples
  CHECK(st->loss == doctest::Approx(1 - step / st->mean_step_s));
  // Seeded: the same inputs, the same figures.
  CHECK(simulate_stragglers(cache, healthy.step.result)->mean_step_s == st->mean_step_s);
  // The whole run takes the simulated mean step.
  const auto w = whole_run(healthy.step.result, model, cluster, 1e9, st);
  CHECK(w.step_time_s == st->mean_step_s);
  CHECK(w.straggler_loss == st->loss);
  CHECK(w.stragglers_simulated);
  // None stated: nothing to simulate.
  cluster.run.slow_node_fraction = 0;
  CostCache plain(Scenario(model, cluster));
  CHECK_FALSE(simulate_stragglers(plain, healthy.step.result));
}
