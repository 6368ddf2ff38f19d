// The operators' costs per layer pass: the device's time, or the host's when it issues more slowly (small layers).
#include <doctest/doctest.h>

#include "models/operators.hpp"
#include "planner/cost_cache.hpp"
#include "planner/plan.hpp"
#include "planner/rank_layout.hpp"

#include <limits>
#include <tuple>

using namespace hpsim;
using namespace hpsim::planner;

namespace {

OpsCost layer_cost(const models::ModelSpec& m, topologies::ClusterSpec cluster, Plan plan, double host_us) {
  cluster.gpu.efficiency.host_overhead = core::microseconds(host_us);
  plan = resolve_plan(plan, m, cluster, "test");
  CostCache cache(Scenario(m, cluster));
  return cache.ops(OpsPart::layer, plan);
}

/// tp 8 on one DGX, one sample of 1024 (or the model's) tokens per micro-batch, full recomputation.
Plan tp8_plan(std::int64_t seq_length) {
  Plan p;
  p.tp = 8;
  p.dp = 1;
  p.micro_batch_size = 1;
  p.global_batch_size = 8;
  p.seq_length = seq_length;
  p.recompute = models::Recompute::full;
  p.flash_attention = false;  // Megatron's unfused core, as GPT's 12-operator layer below
  return p;
}

}  // namespace

TEST_CASE("a small layer runs at the host's pace: operators x host time, backward twice, recompute once") {
  auto m = models::load_model("gpt-1.7b");  // hidden 2304
  m.hidden_size = 1024;
  m.num_heads = 16;
  m.ffn_hidden_size = 4096;
  const auto cluster = topologies::load_cluster("dgx-a100-80gb:1");
  const Plan p = tp8_plan(1024);
  const auto device = layer_cost(m, cluster, p, 0);
  const auto host = layer_cost(m, cluster, p, 70);
  models::ShardShape sh;
  sh.tp = 8;
  sh.micro_batch = 1;
  sh.seq_length = 1024;
  const auto ops = static_cast<double>(models::lower_layer(m, sh).size());  // 12 for GPT's layer
  CHECK(ops == 12);
  // The device needs well under the host's 12 x 70 us for this tp-8 shard of a 1024-wide layer...
  CHECK(device.forward.value() < 0.5 * ops * 70e-6);
  // ...so the host's issue time decides every pass.
  CHECK(host.forward.value() == doctest::Approx(ops * 70e-6));
  CHECK(host.backward.value() == doctest::Approx(ops * 2 * 70e-6));
  CHECK(host.recompute.value() == doctest::Approx(ops * 70e-6));
  // The flops and the activation bytes do not change.
  CHECK(host.forward_flops == device.forward_flops);
  CHECK(host.stored_activations.value() == device.stored_activations.value());
}

TEST_CASE("a large layer is device-bound: the host's issue time changes nothing") {
  const auto m = models::load_model("gpt3-175b");
  const auto cluster = topologies::load_cluster("dgx-a100-80gb:1");
  const Plan p = tp8_plan(0);  // the model's own sequence
  const auto device = layer_cost(m, cluster, p, 0);
  const auto host = layer_cost(m, cluster, p, 70);
  CHECK(host.forward.value() == device.forward.value());
  CHECK(host.backward.value() == device.backward.value());
  CHECK(host.recompute.value() == device.recompute.value());
}

TEST_CASE("collective choices shared by layouts with the same groups are those the coster gives each layout") {
  const auto m = models::load_model("gpt3-175b");
  const Scenario scenario(m, topologies::load_cluster("dgx-a100-80gb:16"));
  CostCache cache(scenario);
  const core::Bytes size = core::gigabytes(0.064);
  // pp 4 with tp 8 / dp 4 and with tp 4 / dp 8: the same stage pairs; tp 8 twice: the same tensor-parallel groups.
  const auto layouts = {std::tuple{8, 4, 4}, std::tuple{4, 8, 4}, std::tuple{8, 2, 8}, std::tuple{2, 16, 4}};
  for (const auto [tp, dp, pp] : layouts) {
    Plan p;
    p.tp = tp, p.dp = dp, p.pp = pp, p.micro_batch_size = 1, p.global_batch_size = 64;
    p = resolve_plan(p, m, scenario.cluster(), "test");
    const RankLayout layout(p);
    CAPTURE(tp);
    CAPTURE(pp);
    const auto direct = [&](costs::Collective op, const Groups& groups) {
      core::Seconds best(std::numeric_limits<double>::max());
      for (const auto& model : scenario.coster().models(op, groups)) best = std::min(best, model.time(size));
      return best.value();
    };
    CHECK(cache.collective(costs::Collective::send_recv, Communicator::pp_boundary, p, 1).time(size).value() ==
          direct(costs::Collective::send_recv, layout.pp_pairs(1)));
    CHECK(cache.collective(costs::Collective::all_reduce, Communicator::tp, p).time(size).value() ==
          direct(costs::Collective::all_reduce, layout.tp_groups()));
    CHECK(cache.collective(costs::Collective::all_gather, Communicator::tp, p).time(size).value() ==
          direct(costs::Collective::all_gather, layout.tp_groups()));
    CHECK(cache.collective(costs::Collective::all_reduce, Communicator::dp, p).time(size).value() ==
          direct(costs::Collective::all_reduce, layout.dp_groups()));
  }
}
