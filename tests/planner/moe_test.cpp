// MoE in the planner: the experts' grid (expert TP, EP, expert DP) as Megatron-Core forms it, the token dispatcher's
// traffic, the experts' parameters and their ZeRO sharding, the capacity factor and the load imbalance.
#include <doctest/doctest.h>

#include <algorithm>

#include "planner/cost_cache.hpp"
#include "planner/memory_model.hpp"
#include "planner/parameters.hpp"
#include "planner/plan.hpp"
#include "planner/rank_layout.hpp"
#include "planner/step_costs.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

/// Mixtral 8x7B (h 4096, ffn 14336, 8 experts, top 2, 32 layers) on one DGX H100: tp 2, dp 4, sequence 4096, SP.
Plan mixtral_plan(std::int64_t ep, std::int64_t etp) {
  Plan p;
  p.tp = 2, p.dp = 4, p.ep = ep, p.expert_tensor_parallel_size = etp, p.sp = true;
  p.micro_batch_size = 1, p.global_batch_size = 64, p.seq_length = 4096, p.zero = 1;
  return p;
}

struct Setup {
  models::ModelSpec model = models::load_model("mixtral-8x7b");
  topologies::ClusterSpec cluster = topologies::load_cluster("dgx-h100:1");
  CostCache cache{Scenario(model, cluster)};
  Plan resolve(Plan p) { return resolve_plan(p, model, cluster, "test"); }
};

}  // namespace

TEST_CASE("MoE grid: expert TP groups are etp consecutive ranks, EP groups ep ranks etp apart (Megatron-Core)") {
  // tp 2 dp 4 (8 ranks), ep 2, etp 2: expert dp 2. Expert order tp-ep-dp: rank = etp + 2 * (ep + 2 * edp).
  Plan p = mixtral_plan(2, 2);
  p.dp = 4, p.pp = 1;
  const RankLayout same(p);
  CHECK(same.etp_groups() == Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}});
  CHECK(same.ep_groups() == Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}});  // as before ETP: ep ranks of the dp dimension
  CHECK(same.expert_dp_groups() == Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}});
  CHECK(same.tp_ep_groups() == Groups{{0, 1, 2, 3}, {4, 5, 6, 7}});
  // Experts without TP (etp 1), ep 8: one EP group of the node's 8 consecutive ranks, no expert dp.
  const RankLayout folded(mixtral_plan(8, 1));
  CHECK(folded.ep_groups() == Groups{{0, 1, 2, 3, 4, 5, 6, 7}});
  CHECK(folded.etp_groups().size() == 8);
  CHECK(folded.expert_dp_groups().size() == 8);
}

TEST_CASE("MoE rules: expert tp * ep must divide tp*cp*dp (parallel_state's world % (etp*ep*pp))") {
  Setup s;
  Plan ok = mixtral_plan(8, 1);  // 1 * 8 divides 2 * 4
  CHECK(check_plan(ok, s.model, s.cluster) == Rule::ok);
  CHECK(ok.expert_dp() == 1);
  Plan bad = mixtral_plan(8, 2);  // 2 * 8 = 16 does not divide 8
  CHECK(check_plan(bad, s.model, s.cluster) == Rule::expert_grid_by_gpus);
  CHECK(explain(Rule::expert_grid_by_gpus, bad, s.model, s.cluster).message ==
        "times expert_tensor_parallel_size (2) must divide tp*cp*dp = 8 (the experts' grid spans the same ranks), got 8");
  Plan dflt = mixtral_plan(4, 0);  // 0: the experts take attention's tp
  CHECK(dflt.expert_tp() == 2);
  CHECK(check_plan(dflt, s.model, s.cluster) == Rule::ok);
  CHECK(dflt.expert_dp() == 1);
}

TEST_CASE("MoE load factor: dropless takes the imbalance, a capacity bounds it, padding fills it") {
  Plan p;
  p.moe_load_imbalance = 1.3;
  CHECK(p.moe_load_factor() == doctest::Approx(1.3));
  p.moe_expert_capacity_factor = 1.0;
  CHECK(p.moe_load_factor() == doctest::Approx(1.0));  // tokens over capacity are dropped
  p.moe_expert_capacity_factor = 2.0;
  CHECK(p.moe_load_factor() == doctest::Approx(1.3));  // the capacity is not reached
  p.moe_pad_expert_input_to_capacity = true;
  CHECK(p.moe_load_factor() == doctest::Approx(2.0));  // every expert computes its full capacity
}

TEST_CASE("MoE dispatch: the all-to-all moves the rank's SP shard's top_k copies; expert TP all-gathers them") {
  Setup s;
  const Plan p = s.resolve(mixtral_plan(2, 2));
  const StepCosts c = compute_step_costs(s.cache, p);
  // Per rank: 4096 tokens / tp 2 = 2048, * top 2 = 4096 copies * 4096 hidden * 2 bytes; the coster sends the
  // (ep-1)/ep of them that leave the rank. Dispatch and combine, one layer.
  const core::Bytes copies(2048.0 * 2 * 4096 * 2);
  const double a2a = s.cache.collective(costs::Collective::all_to_all, Communicator::ep, p).time(copies).value();
  const double layers = 32;
  CHECK(c.chunks[0].forward_ep.value() == doctest::Approx(2 * a2a * layers));
  CHECK(c.chunks[0].backward_ep.value() == doctest::Approx(2 * a2a * layers));
  // Expert TP: all-gather of the 2 ranks' copies (and its reduce-scatter), beside the attention's SP pair.
  const core::Bytes hidden(4096.0 * 4096 * 2);
  const double pair =
      s.cache.collective(costs::Collective::all_gather, Communicator::tp, p).time(hidden).value() +
      s.cache.collective(costs::Collective::reduce_scatter, Communicator::tp, p).time(hidden).value();
  const double expert_pair =
      s.cache.collective(costs::Collective::all_gather, Communicator::expert_tp, p).time(copies * 2.0).value() +
      s.cache.collective(costs::Collective::reduce_scatter, Communicator::expert_tp, p).time(copies * 2.0).value();
  // pp 1: the embedding's reduce-scatter and the LM head's all-gather are one more SP pair.
  CHECK(c.chunks[0].forward_tp.value() == doctest::Approx((pair + expert_pair) * layers + pair));

  // No expert TP: no expert all-gather; a load of 1.5 on the slowest rank scales the all-to-all's bytes.
  Plan folded = mixtral_plan(8, 1);
  folded.moe_load_imbalance = 1.5;
  folded = s.resolve(folded);
  const StepCosts f = compute_step_costs(s.cache, folded);
  CHECK(f.chunks[0].forward_tp.value() == doctest::Approx(pair * layers + pair));
  const double a2a8 = s.cache.collective(costs::Collective::all_to_all, Communicator::ep, folded).time(copies * 1.5).value();
  CHECK(f.chunks[0].forward_ep.value() == doctest::Approx(2 * a2a8 * layers));
}

TEST_CASE("MoE dispatch: the all-gather dispatcher gathers every token over the etp*ep group, then reduce-scatters") {
  Setup s;
  Plan p = mixtral_plan(2, 2);
  p.moe_token_dispatcher = MoeDispatcher::allgather;
  p = s.resolve(p);
  const StepCosts c = compute_step_costs(s.cache, p);
  // 2048 tokens per rank * 4 ranks (etp 2 * ep 2), 4096 hidden, 2 bytes.
  const core::Bytes gathered(2048.0 * 4 * 4096 * 2);
  const double one = s.cache.collective(costs::Collective::all_gather, Communicator::expert_tp_ep, p).time(gathered).value() +
                     s.cache.collective(costs::Collective::reduce_scatter, Communicator::expert_tp_ep, p).time(gathered).value();
  CHECK(c.chunks[0].forward_ep.value() == doctest::Approx(one * 32));
}

TEST_CASE("MoE memory: experts split etp*ep ways; ZeRO-1 shards their optimizer over the expert dp ranks") {
  Setup s;
  const double expert = 176'160'768.0;  // one expert: 3 * 4096 * 14336
  const Plan p = s.resolve(mixtral_plan(4, 2));  // 2 experts a rank, each split 2 ways; expert dp 1
  const ChunkParameters params(s.cache.model(2), p);
  CHECK(params.experts(0) == doctest::Approx(32 * 8 * expert / 8));
  const MemoryUse u = memory_use(s.cache, p);
  // Dense optimizer states over dp*cp = 4 ranks; the experts' over expert dp = 8 / (2 * 4) = 1.
  CHECK(u.optimizer.value() == doctest::Approx(12.0 * ((params(0) - params.experts(0)) / 4 + params.experts(0))));
}

TEST_CASE("MoE: a grouped GEMM beats one GEMM per expert (each launch paid, each expert's own tile waves)") {
  Setup s;
  Plan p = mixtral_plan(1, 1);
  p.tp = 1, p.sp = false, p.dp = 8, p.micro_batch_size = 1;
  Plan sequential = p;
  sequential.moe_grouped_gemm = false;
  const OpsCost grouped = s.cache.ops(OpsPart::layer, s.resolve(p));
  const OpsCost one_by_one = s.cache.ops(OpsPart::layer, s.resolve(sequential));
  CHECK(one_by_one.forward > grouped.forward);
  // The same work: FLOPs unchanged.
  CHECK(one_by_one.forward_flops == doctest::Approx(grouped.forward_flops));
}
