// A step with an uneven pipeline split: per-stage compute and memory follow each stage's layers, the slowest stage
// sets the pace, and a plan without a split key whose pp*vpp does not divide the layers gets the balanced split.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "planner/memory_model.hpp"
#include "planner/pipeline_split.hpp"
#include "planner/step_costs.hpp"
#include "planner/step_simulation.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

/// gpt-1.7b (24 layers) on 4 of the 16 A100s, pp 4, 64 micro-batches: the pipeline's steady state dominates.
Plan four_stages(std::int64_t first = 0, std::int64_t last = 0) {
  Plan p;
  p.tp = 1, p.pp = 4, p.dp = 1, p.global_batch_size = 64;
  p.decoder_first_pipeline_num_layers = first, p.decoder_last_pipeline_num_layers = last;
  return p;
}

struct Predicted {
  double step_s = 0;
  double slowest_stage_s = 0;  ///< one micro-batch's passes on the slowest stage
  StepResult result;
};

Predicted predict(const models::ModelSpec& model, Plan plan, RankMode mode = RankMode::representative) {
  const auto cluster = topologies::load_cluster("dgx-a100-80gb:2");
  plan = resolve_plan(plan, model, cluster, "test");
  CostCache cache(Scenario(model, cluster));
  SimulateOptions options;
  options.mode = mode;
  Predicted out;
  out.result = simulate_step(cache, plan, options).result;
  out.step_s = out.result.step_time.value();
  const StepCosts costs = compute_step_costs(cache, out.result.plan);
  for (std::int64_t s = 0; s < plan.pp; ++s) {
    double stage = 0;
    for (std::int64_t c = 0; c < plan.vpp; ++c) stage += costs.chunks[static_cast<std::size_t>(c * plan.pp + s)].work().value();
    out.slowest_stage_s = std::max(out.slowest_stage_s, stage);
  }
  return out;
}

}  // namespace

TEST_CASE("uneven split: the slowest stage sets the step time") {
  const auto model = models::load_model("gpt-1.7b");
  const Predicted even = predict(model, four_stages());                  // 6, 6, 6, 6
  const Predicted middle_heavy = predict(model, four_stages(3, 3));      // 3, 9, 9, 3
  const Predicted first_heavy = predict(model, four_stages(9, 3));       // 9, 6, 6, 3
  CHECK(middle_heavy.result.layers_per_virtual_stage == std::vector<std::int64_t>{3, 9, 9, 3});
  for (const Predicted* p : {&even, &middle_heavy, &first_heavy}) {
    CAPTURE(p->result.layers_per_virtual_stage[0]);
    // The slowest rank runs its passes for all 64 micro-batches one after another.
    CHECK(p->step_s >= 64 * p->slowest_stage_s);
  }
  // Both uneven splits have a 9-layer stage: the step grows by about 64 micro-batches times the extra 3 layers' work.
  const double per_micro_batch = (middle_heavy.step_s - even.step_s) / 64;
  CHECK(per_micro_batch == doctest::Approx(middle_heavy.slowest_stage_s - even.slowest_stage_s).epsilon(0.1));
  CHECK(first_heavy.step_s == doctest::Approx(middle_heavy.step_s).epsilon(0.05));
  // The even split's slowest stage is its last: 6 layers and an LM head worth about 2 more (vocabulary 51200).
  CHECK(first_heavy.step_s > even.step_s * 1.1);
}

TEST_CASE("uneven split: each stage's weights, optimizer states and activations follow its layers") {
  const auto model = models::load_model("gpt-1.7b");
  const auto cluster = topologies::load_cluster("dgx-a100-80gb:2");
  const Plan plan = resolve_plan(four_stages(3, 3), model, cluster, "test");  // 3, 9, 9, 3
  CostCache cache(Scenario(model, cluster));
  std::vector<MemoryUse> stages;
  for (std::int64_t s = 0; s < plan.pp; ++s) stages.push_back(stage_memory_use(cache, plan, s));
  // 9 layers (about 57 M parameters each) outweigh 3 layers and the 118 M-parameter embedding or LM head.
  CHECK(stages[1].weights.value() > 1.5 * stages[0].weights.value());
  CHECK(stages[1].optimizer.value() > 1.5 * stages[3].optimizer.value());
  CHECK(stages[1].weights.value() == doctest::Approx(stages[2].weights.value()));
  // 1F1B keeps p - s micro-batches in flight: stage 1 holds 3 of 9 layers, stage 0 holds 4 of 3 layers.
  CHECK(stages[1].activations.value() > stages[0].activations.value());
  const MemoryUse fullest = memory_use(cache, plan);
  for (const auto& u : stages) CHECK(fullest.peak.value() >= u.peak.value());
  const Plan even = resolve_plan(four_stages(), model, cluster, "test");
  CHECK(memory_use(cache, even).peak.value() < fullest.peak.value());
}

TEST_CASE("uneven split: without a split key, pp*vpp not dividing the layers gets the balanced split, recorded") {
  auto model = models::load_model("gpt-1.7b");
  model.num_layers = 26;  // 26 over 4 stages: no even split
  const Predicted chosen = predict(model, four_stages());
  const auto& layers = chosen.result.layers_per_virtual_stage;
  CHECK(std::accumulate(layers.begin(), layers.end(), std::int64_t{0}) == 26);
  CHECK(split_keys_given(chosen.result.plan));
  CHECK(check_pipeline_split(chosen.result.plan, 26) == Rule::ok);
  CHECK(*std::max_element(layers.begin(), layers.end()) == 7);  // 26 / 4 rounded up: nothing less balanced
  // Every GPU simulated gives the same step (the stages differ, so their ranks must be matched up right).
  Plan interleaved = four_stages();
  interleaved.tp = 2, interleaved.vpp = 2, interleaved.global_batch_size = 8;  // 8 GPUs, 8 micro-batches
  const Predicted representative = predict(model, interleaved);
  const Predicted full = predict(model, interleaved, RankMode::full);
  CHECK(full.step_s == doctest::Approx(representative.step_s).epsilon(1e-9));
}
