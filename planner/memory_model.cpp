#include "planner/memory_model.hpp"

#include <algorithm>

#include "models/operators.hpp"
#include "planner/cost_cache.hpp"
#include "planner/parameters.hpp"
#include "planner/pipeline_schedule.hpp"
#include "planner/pipeline_split.hpp"

namespace hpsim::planner {

using core::Bytes;

Bytes layer_activation_bytes(const models::ModelSpec& model, const Plan& plan) {
  if (plan.recompute == models::Recompute::full) {
    // Only the layer's input is kept (sharded along the sequence with SP).
    const double tokens = static_cast<double>(plan.micro_batch_size * plan.seq_length / plan.cp);
    return Bytes(tokens * static_cast<double>(model.hidden_size) * shard_of(plan).bytes_per_element /
                 static_cast<double>(plan.sp ? plan.tp : 1));
  }
  Bytes sum;
  for (const auto& op : models::lower_layer(model, shard_of(plan)))
    if (!(plan.recompute == models::Recompute::selective && op.attention_core)) sum += op.activation_bytes;
  return sum;
}

namespace {

/// What every stage's memory is computed from, looked up once per plan (the search asks for every candidate).
struct MemoryInputs {
  MemoryInputs(CostCache& cache, const Plan& plan)
      : model(cache.model(plan.tp)), split(plan, model.num_layers), parameters(model, plan),
        bytes(parameter_bytes(plan.precision)) {
    const OpsCost layer = cache.ops(OpsPart::layer, plan);
    const bool full = plan.recompute == models::Recompute::full;
    per_layer = full ? layer_activation_bytes(model, plan) : layer.stored_activations;
    // Full recomputation rebuilds one layer's whole activations during its backward pass.
    rebuilt = full ? layer.all_activations : Bytes(0);
    embedding = cache.ops(OpsPart::embedding, plan).all_activations;
    head = cache.ops(OpsPart::lm_head, plan).all_activations;
    hidden = Bytes(static_cast<double>(plan.micro_batch_size * plan.seq_length / plan.cp) *
                   static_cast<double>(model.hidden_size) * shard_of(plan).bytes_per_element);
    capacity = cache.cluster().gpu.hbm_capacity;
    usable = cache.cluster().usable_memory();
  }
  const models::ModelSpec& model;
  PipelineSplit split;
  ChunkParameters parameters;
  ParameterBytes bytes;
  Bytes per_layer, rebuilt, embedding, head, hidden, capacity, usable;
};

MemoryUse stage_use(const MemoryInputs& in, const Plan& plan, std::int64_t s) {
  const std::int64_t p = plan.pp, v = plan.vpp, m = plan.micro_batches();
  double params = 0, experts = 0;
  std::int64_t layers_in_flight = 0;  // layer activations of the micro-batch chunks held at the peak
  for (std::int64_t c = 0; c < v; ++c) {
    params += in.parameters(c * p + s);
    experts += in.parameters.experts(c * p + s);
    layers_in_flight += peak_in_flight_of_chunk(plan.schedule, p, v, m, s, c) * in.split.layers(c * p + s);
  }
  MemoryUse u;
  u.capacity = in.capacity;
  u.usable = in.usable;
  u.stage = s;
  u.weights = Bytes(sharded_parameters(plan, 3, params, experts) * in.bytes.weight);
  u.gradients = Bytes(sharded_parameters(plan, 2, params, experts) * in.bytes.gradient);
  u.optimizer = Bytes(sharded_parameters(plan, 1, params, experts) * in.bytes.optimizer);
  const auto chunks = static_cast<double>(peak_in_flight_chunks(plan.schedule, p, v, m, s));
  u.activations = in.per_layer * static_cast<double>(layers_in_flight) + in.rebuilt;
  // The embedding's and LM head's activations live for as long as the first/last chunk's micro-batches.
  if (s == 0) u.activations += in.embedding * std::min(chunks, static_cast<double>(m));
  if (s == p - 1) u.activations += in.head;
  // Pipeline send/receive buffers (both directions) and, under ZeRO-3/FSDP, the gathered weights of the unit
  // running and the one prefetched, and the unit's full gradients before they are reduce-scattered.
  u.buffers = p > 1 ? in.hidden * 2.0 : Bytes(0);
  if (plan.zero >= 3) u.buffers += Bytes(in.parameters.largest_unit() * (2.0 * in.bytes.weight + in.bytes.gradient));
  u.peak = u.weights + u.gradients + u.optimizer + u.activations + u.buffers;
  return u;
}

}  // namespace

MemoryUse stage_memory_use(CostCache& cache, const Plan& plan, std::int64_t stage) {
  return stage_use(MemoryInputs(cache, plan), plan, stage);
}

MemoryUse memory_use(CostCache& cache, const Plan& plan) {
  const MemoryInputs in(cache, plan);
  MemoryUse best = stage_use(in, plan, 0);
  for (std::int64_t s = 1; s < plan.pp; ++s) {
    MemoryUse u = stage_use(in, plan, s);
    if (u.peak > best.peak) best = u;
  }
  return best;
}

}  // namespace hpsim::planner
