#include "planner/memory_model.hpp"

#include <algorithm>

#include "models/operators.hpp"
#include "planner/cost_cache.hpp"
#include "planner/mixed_cluster.hpp"
#include "planner/parameters.hpp"
#include "planner/pipeline_schedule.hpp"
#include "planner/pipeline_split.hpp"

namespace hpsim::planner {

using core::Bytes;

Bytes layer_activation_bytes(const models::ModelSpec& model, const Plan& plan, models::LayerKind kind) {
  if (plan.recompute == models::Recompute::full) {
    // Only the layer's input is kept (sharded along the sequence with SP).
    const double tokens = static_cast<double>(plan.micro_batch_size * plan.seq_length / plan.cp);
    return Bytes(tokens * static_cast<double>(model.hidden_size) * shard_of(plan).bytes_per_element /
                 static_cast<double>(plan.sp ? plan.tp : 1));
  }
  Bytes sum;
  for (const auto& op : models::lower_layer(model, shard_of(plan), kind))
    if (!(plan.recompute == models::Recompute::selective && op.attention_core)) sum += op.activation_bytes;
  return sum;
}

namespace {

/// What every stage's memory is computed from, looked up once per plan (the search asks for every candidate).
struct MemoryInputs {
  MemoryInputs(CostCache& cache, const Plan& plan)
      : model(cache.model(plan.tp)), parameters(model, plan),
        bytes(parameter_bytes(plan)) {
    const OpsCost layer = cache.ops(OpsPart::layer, plan);
    const bool full = plan.recompute == models::Recompute::full;
    per_layer = full ? layer_activation_bytes(model, plan) : layer.stored_activations;
    // Full recomputation rebuilds one layer's whole activations during its backward pass.
    rebuilt = full ? layer.all_activations : Bytes(0);
    // An MoE model's leading dense layers keep their own activations.
    dense_layers = model.dense_layers();
    if (dense_layers > 0) {
      const OpsCost dense = cache.ops(OpsPart::dense_layer, plan);
      per_dense_layer = full ? layer_activation_bytes(model, plan, models::LayerKind::leading_dense)
                             : dense.stored_activations;
      if (full) rebuilt = std::max(rebuilt, dense.all_activations);
    }
    embedding = cache.ops(OpsPart::embedding, plan).all_activations;
    head = cache.ops(OpsPart::lm_head, plan).all_activations;
    const double tokens = static_cast<double>(plan.micro_batch_size * plan.seq_length / plan.cp);
    hidden = Bytes(tokens * static_cast<double>(model.hidden_size) * shard_of(plan).bytes_per_element);
    // torchtitan's loss is F.cross_entropy on an fp32 copy of the whole logits (the LM head's output): beside the
    // kept fp32 log-softmax the forward holds the 16-bit logits and their fp32 copy, the backward the fp32 gradient
    // from the loss and the one it passes back, 8 bytes per logit more at the peak. Megatron's vocab-parallel
    // cross-entropy (and its fused kernel) works in place on its logits.
    if (plan.framework == Framework::fsdp)
      loss_peak = Bytes(8.0 * tokens * static_cast<double>((model.vocab_size + plan.tp - 1) / plan.tp));
    capacity = cache.cluster().gpu.hbm_capacity;
    usable = cache.cluster().usable_memory();
  }
  const models::ModelSpec& model;
  ChunkParameters parameters;
  ParameterBytes bytes;
  Bytes per_layer, rebuilt, embedding, head, hidden, capacity, usable;
  Bytes loss_peak;  ///< the loss's transient bytes beyond the LM head's kept activations (last stage)
  std::int64_t dense_layers = 0;
  Bytes per_dense_layer;
};

MemoryUse stage_use(const MemoryInputs& in, const Plan& plan, std::int64_t s) {
  const std::int64_t p = plan.pp, v = plan.vpp, m = plan.micro_batches();
  double params = 0, experts = 0, ends = 0;
  std::int64_t layers_in_flight = 0;  // layer activations of the micro-batch chunks held at the peak
  std::int64_t dense_in_flight = 0;   // of them, an MoE model's leading dense layers
  for (std::int64_t c = 0; c < v; ++c) {
    params += in.parameters(c * p + s);
    ends += in.parameters.ends(c * p + s);
    const std::int64_t in_flight = peak_in_flight_of_chunk(plan.schedule, p, v, m, s, c);
    const std::int64_t dense = in.parameters.split().layers_among_first(c * p + s, in.dense_layers);
    layers_in_flight += in_flight * (in.parameters.split().layers(c * p + s) - dense);
    dense_in_flight += in_flight * dense;
    experts += in.parameters.experts(c * p + s);
  }
  MemoryUse u;
  u.capacity = in.capacity;
  u.usable = in.usable;
  u.stage = s;
  // Which states are sharded: ZeRO-1 the optimizer's (Megatron's distributed optimizer keeps full-size gradient
  // buffers), ZeRO-2 the gradients too, ZeRO-3/FSDP the weights too; the routed experts' over the expert
  // data-parallel ranks. FSDP2's ZeRO-2 (SHARD_GRAD_OP) shards the resident weights as well and keeps the gathered
  // 16-bit ones from the forward to the backward pass; under a pipeline FSDP holds the stage's gathered weights and
  // its whole gradients for the step (Plan::fsdp_holds_stage_unsharded).
  // The layers' weights may be held and gathered in FP8 (fp8_param_gather); the embedding and LM head are not.
  const bool held = plan.fsdp_holds_stage_unsharded();
  const bool keeps_gathered = (plan.zero == 2 || held) && in.bytes.gathered_weights_held;
  const double resident = (params - ends) * in.bytes.resident_layer_weight + ends * in.bytes.resident_weight;
  const double resident_experts = experts * in.bytes.resident_layer_weight;
  u.weights = Bytes(sharded_parameters(plan, keeps_gathered ? 2 : 3, resident, resident_experts));
  if (keeps_gathered) u.weights += Bytes((params - ends) * in.bytes.gathered_layer_weight + ends * in.bytes.weight);
  u.gradients = Bytes((held ? params : sharded_parameters(plan, 2, params, experts)) * in.bytes.gradient);
  u.optimizer = Bytes(sharded_parameters(plan, 1, params, experts) * in.bytes.optimizer);
  const auto chunks = static_cast<double>(peak_in_flight_chunks(plan.schedule, p, v, m, s));
  u.activations = in.per_layer * static_cast<double>(layers_in_flight) + in.rebuilt;
  if (dense_in_flight > 0) u.activations += in.per_dense_layer * static_cast<double>(dense_in_flight);
  // The embedding's and LM head's activations live for as long as the first/last chunk's micro-batches.
  if (s == 0) u.activations += in.embedding * std::min(chunks, static_cast<double>(m));
  if (s == p - 1) u.activations += in.head + in.loss_peak;
  // Pipeline send/receive buffers (both directions) and, under ZeRO-3/FSDP, the gathered weights of the unit
  // running and the one prefetched, and the unit's full gradients before they are reduce-scattered.
  u.buffers = p > 1 ? in.hidden * 2.0 : Bytes(0);
  if (plan.zero >= 3 && !held)
    u.buffers += Bytes(in.parameters.largest_unit_bytes(2.0 * in.bytes.gathered_layer_weight + in.bytes.gradient,
                                                        2.0 * in.bytes.weight + in.bytes.gradient));
  u.peak = u.weights + u.gradients + u.optimizer + u.activations + u.buffers;
  return u;
}

}  // namespace

MemoryUse stage_memory_use(CostCache& cache, const Plan& plan, std::int64_t stage) {
  if (cache.groups() > 0) return stage_memory_use(cache.group(stage_group(plan, cache.cluster(), stage)), plan, stage);
  return stage_use(MemoryInputs(cache, plan), plan, stage);
}

MemoryUse memory_use(CostCache& cache, const Plan& plan) {
  if (cache.groups() > 0) return mixed_memory_use(cache, plan);  // each stage against its own GPU
  const MemoryInputs in(cache, plan);
  // When every virtual stage holds as many layers of one kind, the stages between the first and the last hold the
  // same states and buffers, and the later ones fewer micro-batches in flight: the second is the fullest of them.
  const bool middle_alike = in.parameters.split().even() && in.dense_layers == 0;
  MemoryUse best = stage_use(in, plan, 0);
  for (std::int64_t s = 1; s < plan.pp; ++s) {
    if (middle_alike && s > 1 && s < plan.pp - 1) continue;
    MemoryUse u = stage_use(in, plan, s);
    if (u.peak > best.peak) best = u;
  }
  return best;
}

}  // namespace hpsim::planner
