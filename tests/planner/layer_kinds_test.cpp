// An MoE model that leads with dense layers (DeepSeek's first_k_dense_replace): each pipeline stage's work,
// parameters and activations are those of the layers it really holds.
#include <doctest/doctest.h>

#include "models/formulas.hpp"
#include "planner/memory_model.hpp"
#include "planner/pipeline_split.hpp"
#include "planner/step_costs.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

/// 8 layers of h 1024, the first 2 dense (SwiGLU of 4096), the rest MoE: 16 routed experts of 512, top-2, 1 shared.
models::ModelSpec leading_dense_moe() {
  return models::model_from_fields(core::Fields(
      YAML::Load("{num_hidden_layers: 8, hidden_size: 1024, num_attention_heads: 8, intermediate_size: 4096, "
                 "moe_intermediate_size: 512, n_routed_experts: 16, num_experts_per_tok: 2, n_shared_experts: 1, "
                 "first_k_dense_replace: 2, vocab_size: 32000, seq_length: 2048, hidden_act: silu}"),
      "moe.yaml"));
}

Plan pipeline(std::int64_t vpp) {
  Plan p;
  p.tp = 1, p.pp = 4, p.vpp = vpp, p.global_batch_size = 64;
  return p;
}

}  // namespace

TEST_CASE("layers_among_first: the first k layers, numbered in virtual stage order") {
  Plan p = pipeline(1);
  const PipelineSplit even(p, 8);  // 2, 2, 2, 2
  CHECK(even.layers_among_first(0, 3) == 2);
  CHECK(even.layers_among_first(1, 3) == 1);
  CHECK(even.layers_among_first(2, 3) == 0);
  CHECK(even.layers_among_first(0, 0) == 0);
  p.decoder_first_pipeline_num_layers = 1, p.decoder_last_pipeline_num_layers = 1;
  const PipelineSplit uneven(p, 8);  // 1, 3, 3, 1
  CHECK(uneven.layers_among_first(0, 3) == 1);
  CHECK(uneven.layers_among_first(1, 3) == 2);
  CHECK(uneven.layers_among_first(2, 3) == 0);
  const PipelineSplit interleaved(pipeline(2), 8);  // virtual stages 0..7 of one layer each: 0 and 1 are dense
  CHECK((interleaved.layers_among_first(0, 2) == 1 && interleaved.layers_among_first(1, 2) == 1 &&
         interleaved.layers_among_first(4, 2) == 0));
}

TEST_CASE("leading dense layers: each stage is costed with the kinds of layers it holds") {
  const auto model = leading_dense_moe();
  // Dense layer: attention 4 * 1024^2 + SwiGLU 3 * 1024 * 4096 + norms 2 * 1024 = 16,779,264.
  // MoE layer: attention 4,194,304 + router 1024 * 16 + 17 experts of 3 * 1024 * 512 + norms 2048 = 30,951,424.
  REQUIRE(models::layer_parameters(model, models::LayerKind::leading_dense) == 16'779'264);
  REQUIRE(models::layer_parameters(model) == 30'951'424);
  const auto cluster = topologies::load_cluster("dgx-a100-80gb:1");
  const Plan plan = resolve_plan(pipeline(1), model, cluster, "test");  // 2 layers per stage
  CostCache cache(Scenario(model, cluster));
  const StepCosts costs = compute_step_costs(cache, plan);
  const OpsCost dense = cache.ops(OpsPart::dense_layer, plan), moe = cache.ops(OpsPart::layer, plan);
  const OpsCost embedding = cache.ops(OpsPart::embedding, plan);
  CHECK(dense.forward_flops != doctest::Approx(moe.forward_flops));
  // Stage 0 holds the two dense layers and the embedding; stage 1 two MoE layers.
  CHECK(costs.chunks[0].forward.value() == doctest::Approx(2 * dense.forward.value() + embedding.forward.value()));
  CHECK(costs.chunks[0].model_flops == doctest::Approx(2 * (dense.forward_flops + dense.backward_flops)));
  CHECK(costs.chunks[1].forward.value() == doctest::Approx(2 * moe.forward.value()));
  // Parameters: 2 dense layers + the 32000 x 1024 embedding; 2 MoE layers; 2 MoE layers + the untied LM head.
  CHECK(costs.chunks[0].parameters == doctest::Approx(2 * 16'779'264.0 + 32'768'000.0));
  CHECK(costs.chunks[1].parameters == doctest::Approx(2 * 30'951'424.0));
  CHECK(costs.chunks[3].parameters == doctest::Approx(2 * 30'951'424.0 + 32'768'000.0));
  // Activations: stage 1 keeps 1F1B's pp - 1 = 3 micro-batches of two MoE layers, stage 0 four of two dense ones.
  const MemoryUse s0 = stage_memory_use(cache, plan, 0), s1 = stage_memory_use(cache, plan, 1);
  CHECK(s1.activations.value() == doctest::Approx(3 * 2 * moe.stored_activations.value()));
  const double embedding_kept = cache.ops(OpsPart::embedding, plan).all_activations.value() * 4;
  CHECK(s0.activations.value() == doctest::Approx(4 * 2 * dense.stored_activations.value() + embedding_kept));

  // Interleaved (vpp 2): virtual stages 0 and 1 (pipeline stages 0 and 1, first chunk) each hold one dense layer.
  const Plan vpp = resolve_plan(pipeline(2), model, cluster, "test");
  const StepCosts interleaved = compute_step_costs(cache, vpp);
  CHECK(interleaved.chunks[1].forward.value() == doctest::Approx(dense.forward.value()));
  CHECK(interleaved.chunks[5].forward.value() == doctest::Approx(moe.forward.value()));
}

TEST_CASE("a dense model costs one layer kind: leading dense layers change nothing without experts") {
  auto model = models::load_model("gpt-1.7b");
  model.first_k_dense = 4;  // meaningless without experts
  CHECK(model.dense_layers() == 0);
  const auto cluster = topologies::load_cluster("dgx-a100-80gb:1");
  const Plan plan = resolve_plan(pipeline(1), model, cluster, "test");
  CostCache with(Scenario(model, cluster)), without(Scenario(models::load_model("gpt-1.7b"), cluster));
  const StepCosts a = compute_step_costs(with, plan), b = compute_step_costs(without, plan);
  for (std::size_t i = 0; i < a.chunks.size(); ++i) CHECK(a.chunks[i].work().value() == b.chunks[i].work().value());
}

TEST_CASE("leading dense layers: a dense layer's MLP pays its own TP all-gather and reduce-scatter, no dispatch") {
  const auto model = leading_dense_moe();
  Plan plan = pipeline(1);
  plan.tp = 2, plan.sp = true, plan.global_batch_size = 32;
  const auto cluster = topologies::load_cluster("dgx-h100:1");
  plan = resolve_plan(plan, model, cluster, "test");
  CostCache cache{Scenario(model, cluster)};
  const StepCosts costs = compute_step_costs(cache, plan);
  const double hidden_bytes = 2048.0 * 1024.0 * 2.0;  // one micro-batch's hidden state, bf16
  const auto time = [&](costs::Collective op) {
    return cache.collective(op, Communicator::tp, plan).time(core::Bytes(hidden_bytes)).value();
  };
  const double pair = time(costs::Collective::all_gather) + time(costs::Collective::reduce_scatter);
  // Stage 0: the embedding's reduce-scatter and two dense layers of two pairs each (attention's and the MLP's).
  CHECK(costs.chunks[0].forward_tp.value() ==
        doctest::Approx(time(costs::Collective::reduce_scatter) + 2 * 2 * pair));
  // Stage 1: two MoE layers, each the attention's pair and the expert TP exchange of the routed tokens (top-2
  // copies of the rank's SP shard, gathered over the expert TP group), not a dense MLP pair.
  const auto expert = [&](costs::Collective op) {
    return cache.collective(op, Communicator::expert_tp, plan).time(core::Bytes(hidden_bytes / 2 * 2 * 2)).value();
  };
  CHECK(costs.chunks[1].forward_tp.value() ==
        doctest::Approx(2 * (pair + expert(costs::Collective::all_gather) + expert(costs::Collective::reduce_scatter))));
}
