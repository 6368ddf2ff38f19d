// Mixed clusters: every pipeline stage on one node group, costed on its GPU; layers split by stage speed, which beats
// the split a homogeneous cluster would take; stages straddling two groups refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "core/error.hpp"
#include "planner/mixed_cluster.hpp"
#include "planner/pipeline_split.hpp"
#include "planner/plan_fields.hpp"
#include "planner/search.hpp"
#include "planner/step_costs.hpp"
#include "planner/step_simulation.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

const std::string kMixedCluster = std::string(HPSIM_SOURCE_DIR) + "/examples/clusters/mixed-h100-a100.yaml";

/// Llama-3 8B (32 layers) on 2 DGX H100 + 2 DGX A100 nodes: tp 8 keeps each stage in one node, pp 4 puts stages 0-1
/// on the H100 nodes and 2-3 on the A100 nodes.
Plan four_stages() {
  Plan p;
  p.tp = 8, p.pp = 4, p.dp = 1, p.global_batch_size = 64, p.seq_length = 4096;
  return p;
}

PipelineUnitCosts units(double layer, double embedding = 0, double head = 0) {
  PipelineUnitCosts u;
  u.layer = core::Seconds(layer), u.dense_layer = u.layer;
  u.embedding = core::Seconds(embedding), u.head = core::Seconds(head);
  return u;
}

}  // namespace

TEST_CASE("speed split: layers in proportion to speed, the slowest stage least") {
  // Two stages three times as fast as the other two: 12 layers each on the fast ones, 4 on the slow ones, every
  // stage 12 units of work (12 x 1 = 4 x 3), the least maximum for 32 layers (even: 8 x 3 = 24).
  CHECK(speed_split_layers(32, 1, {units(1), units(1), units(3), units(3)}) ==
        std::vector<std::int64_t>{12, 12, 4, 4});
  // The LM head weighs 2 layers' work on the last stage: the least maximum of {L0, L1, L2, L3 + 2} over 32 layers is
  // 9 (stages of at most 9 hold 9 + 9 + 9 + 7 = 34 >= 32 layers; of at most 8, only 8 + 8 + 8 + 6 = 30).
  const auto head = speed_split_layers(32, 1, {units(1), units(1), units(1), units(1, 0, 2)});
  CHECK(std::accumulate(head.begin(), head.end(), std::int64_t{0}) == 32);
  CHECK(std::max({head[0], head[1], head[2], head[3] + 2}) == 9);
  // vpp 2: counts in pairs, at least one pair each.
  const auto pairs = speed_split_layers(32, 2, {units(1), units(10), units(10), units(10)});
  CHECK(pairs == std::vector<std::int64_t>{26, 2, 2, 2});
  CHECK(speed_split_layers(31, 2, {units(1), units(1)}).empty());  // vpp does not divide the layers
  CHECK(speed_split_layers(3, 1, {units(1), units(1), units(1), units(1)}).empty());  // fewer layers than stages
}

TEST_CASE("mixed cluster: the H100 stages take more layers and the step beats the homogeneous split's") {
  const auto model = models::load_model("llama3-8b");
  const auto cluster = topologies::load_cluster(kMixedCluster);
  REQUIRE(cluster.mixed());
  const Plan plan = resolve_plan(four_stages(), model, cluster, "test");
  CHECK(stage_group(plan, cluster, 0) == 0);
  CHECK(stage_group(plan, cluster, 1) == 0);
  CHECK(stage_group(plan, cluster, 2) == 1);
  CHECK(stage_group(plan, cluster, 3) == 1);

  const Scenario scenario(model, cluster);
  CostCache cache(scenario);
  const StepResult fast = simulate_step(cache, plan).result;
  CostCache even_cache(scenario.with_speed_split(false));
  const StepResult even = simulate_step(even_cache, plan).result;

  // The homogeneous split: 8 layers per stage. By speed: H100's dense BF16 peak is about 3x A100's (989 vs 312
  // TFLOP/s), so the H100 stages take more than 8 layers and the A100 stages fewer, adding up to 32.
  REQUIRE(even.plan.pipeline_layers.empty());
  CHECK(PipelineSplit(even.plan, 32).per_stage() == std::vector<std::int64_t>{8, 8, 8, 8});
  const auto& layers = fast.plan.pipeline_layers;
  REQUIRE(layers.size() == 4);
  CHECK(layers[0] + layers[1] + layers[2] + layers[3] == 32);
  CHECK(layers[0] > 8);
  CHECK(layers[1] > 8);
  CHECK(layers[2] < 8);
  CHECK(layers[3] < 8);

  // Each stage costed on its GPU: a layer on an H100 stage takes less time than on an A100 stage, by less than the
  // peaks' ratio (989 / 312 = 3.2): the TP all-reduces and the memory-bound kernels gain less (HBM 3.35 vs 2.04 TB/s).
  const StepCosts costs = compute_step_costs(cache, even.plan);
  const double h100_layer = costs.chunks[1].work().value() / 8, a100_layer = costs.chunks[2].work().value() / 8;
  CHECK(h100_layer < a100_layer);
  CHECK(a100_layer < 3.2 * h100_layer);
  // The speed split balances the stages: with fractional layers every stage would take T = 32 / (2 / h100_layer +
  // 2 / a100_layer) (each stage's layers = T / its layer time); whole layers cost at most one more A100 layer. The
  // even split's slowest stage holds 8 A100 layers, about 1.4 T with the measured layer times.
  const double ideal = 32 / (2 / h100_layer + 2 / a100_layer);
  const StepCosts by_speed = compute_step_costs(cache, fast.plan);
  double slowest = 0;
  for (const auto& c : by_speed.chunks) slowest = std::max(slowest, c.work().value());
  CHECK(slowest >= ideal);
  CHECK(slowest < ideal + a100_layer);
  CHECK(slowest < 8 * a100_layer);
  // 64 micro-batches: the slowest stage sets the pace. Even: an A100 stage's 8 layers; by speed its fewer layers.
  CHECK(fast.step_time.value() < even.step_time.value());
  CHECK(fast.step_time.value() < 0.8 * even.step_time.value());
  CHECK(even.step_time.value() > 64 * 8 * a100_layer);
  CHECK(fast.memory.fits());
}

TEST_CASE("mixed cluster: the planner's speed-aware best beats the best plan with the homogeneous split") {
  const auto model = models::load_model("llama3-8b");
  const auto cluster = topologies::load_cluster(kMixedCluster);
  const Scenario scenario(model, cluster);
  SearchSpace space;
  space.fixed.global_batch_size = 64;
  space.fixed.seq_length = 4096;
  space.axis(PlanKey::tp).values = {8};
  space.axis(PlanKey::pp).values = {4};
  SearchOptions options;
  options.top_k = 3;
  options.threads = 1;
  const SearchResult mixed = search_plans(scenario, space, options);
  REQUIRE_FALSE(mixed.plans.empty());
  const StepResult& best = mixed.plans.front();
  REQUIRE(best.plan.pipeline_layers.size() == 4);
  CHECK(best.plan.pipeline_layers[0] > best.plan.pipeline_layers[3]);
  const MixedClusterComparison c = compare_mixed_cluster(scenario, space, options, best.step_time.value());
  CHECK(c.even_split_step_s > 0);
  CHECK(c.step_s < c.even_split_step_s);
  // All four nodes H100: faster than the mix; all A100: slower than it.
  REQUIRE(c.homogeneous.size() == 2);
  CHECK(c.homogeneous[0].gpu == "h100-sxm");
  CHECK(c.homogeneous[0].step_s < c.step_s);
  CHECK(c.homogeneous[1].gpu == "a100-80gb");
  CHECK(c.homogeneous[1].step_s > c.step_s);
}

TEST_CASE("mixed cluster: a stage straddling two node groups is refused, naming pp") {
  const auto model = models::load_model("llama3-8b");
  const auto cluster = topologies::load_cluster(kMixedCluster);
  // pp 2 with tp 8, dp 2: each stage 16 GPUs = 2 nodes, stage 0 on the H100 nodes, stage 1 on the A100 nodes: fine.
  Plan two = four_stages();
  two.pp = 2, two.dp = 2;
  CHECK(check_plan(two, model, cluster) == Rule::ok);
  // pp 1: the one stage spans both groups.
  Plan one = four_stages();
  one.pp = 1, one.dp = 4;
  CHECK(check_plan(one, model, cluster) == Rule::stage_straddles_node_groups);
  CHECK(explain(Rule::stage_straddles_node_groups, one, model, cluster).field == "pp");
  // A homogeneous cluster has no such rule.
  Plan homogeneous = one;
  CHECK(check_plan(homogeneous, model, topologies::load_cluster("dgx-h100:4")) == Rule::ok);
}

TEST_CASE("pipeline_layers: read from and written to a plan file, checked against pp, vpp and the layers") {
  const auto model = models::load_model("llama3-8b");
  const auto cluster = topologies::load_cluster("dgx-h100:4");
  YAML::Node node = YAML::Load("{tp: 8, pp: 4, global_batch_size: 64, pipeline_layers: [10, 10, 6, 6]}");
  Plan p = plan_from_fields(core::Fields(node, "plan.yaml"));
  CHECK(p.pipeline_layers == std::vector<std::int64_t>{10, 10, 6, 6});
  CHECK(check_plan(p, model, cluster) == Rule::ok);
  CHECK(plan_from_fields(core::Fields(plan_to_node(p), "back")).pipeline_layers == p.pipeline_layers);
  CHECK(PipelineSplit(p, 32).per_stage() == std::vector<std::int64_t>{10, 10, 6, 6});
  Plan wrong_sum = p;
  wrong_sum.pipeline_layers = {10, 10, 6, 5};
  CHECK(check_plan(wrong_sum, model, cluster) == Rule::pipeline_layers_shape);
  CHECK(explain(Rule::pipeline_layers_shape, wrong_sum, model, cluster).field == "pipeline_layers");
  Plan wrong_count = p;
  wrong_count.pipeline_layers = {16, 16};
  CHECK(check_plan(wrong_count, model, cluster) == Rule::pipeline_layers_shape);
  Plan with_first = p;
  with_first.decoder_first_pipeline_num_layers = 10;
  CHECK(check_plan(with_first, model, cluster) == Rule::split_keys_exclusive);
  CHECK_THROWS_AS(plan_from_fields(core::Fields(YAML::Load("{global_batch_size: 8, pipeline_layers: [4, x]}"), "f")),
                  core::InputError);
  CHECK_THROWS_AS(plan_from_fields(core::Fields(YAML::Load("{global_batch_size: 8, pipeline_layers: 4}"), "f")),
                  core::InputError);
}
