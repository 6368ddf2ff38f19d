#include "planner/memory_model.hpp"

#include <algorithm>

#include "models/operators.hpp"
#include "planner/cost_cache.hpp"
#include "planner/parameters.hpp"
#include "planner/pipeline_schedule.hpp"

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

MemoryUse memory_use(CostCache& cache, const Plan& plan) {
  const models::ModelSpec& model = cache.model(plan.tp);
  const std::int64_t p = plan.pp, v = plan.vpp, m = plan.micro_batches();
  const double layers_per_chunk = static_cast<double>(model.num_layers / (p * v));
  const double dp_shard = static_cast<double>(plan.dp * plan.cp);
  const ParameterBytes bytes = parameter_bytes(plan.precision);
  const OpsCost layer = cache.ops(OpsPart::layer, plan);
  const Bytes per_layer =
      plan.recompute == models::Recompute::full ? layer_activation_bytes(model, plan) : layer.stored_activations;
  // Full recomputation rebuilds one layer's whole activations during its backward pass.
  const Bytes rebuilt = plan.recompute == models::Recompute::full ? layer.all_activations : Bytes(0);
  const Bytes embedding = cache.ops(OpsPart::embedding, plan).all_activations;
  const Bytes head = cache.ops(OpsPart::lm_head, plan).all_activations;
  const Bytes hidden(static_cast<double>(plan.micro_batch_size * plan.seq_length / plan.cp) *
                     static_cast<double>(model.hidden_size) * shard_of(plan).bytes_per_element);

  MemoryUse best;
  best.capacity = cache.cluster().gpu.hbm_capacity;
  best.usable = cache.cluster().usable_memory();
  bool first = true;
  const ChunkParameters chunk_parameters(model, plan);
  for (std::int64_t s = 0; s < p; ++s) {
    double params = 0;
    for (std::int64_t c = 0; c < v; ++c) params += chunk_parameters(c * p + s);
    MemoryUse u;
    u.capacity = best.capacity;
    u.usable = best.usable;
    u.stage = s;
    u.weights = Bytes(params * bytes.weight / (plan.zero >= 3 ? dp_shard : 1.0));
    // FP8 copies of the layers' weights persist unless ZeRO-3/FSDP gathers (and casts) them per use.
    if (plan.zero < 3) u.weights += Bytes(static_cast<double>(v) * chunk_parameters.layer_parameters() * bytes.fp8_weight_copies);
    u.gradients = Bytes(params * bytes.gradient / (plan.zero >= 2 ? dp_shard : 1.0));
    u.optimizer = Bytes(params * bytes.optimizer / (plan.zero >= 1 ? dp_shard : 1.0));
    const auto chunks = static_cast<double>(peak_in_flight_chunks(plan.schedule, p, v, m, s));
    u.activations = per_layer * (chunks * layers_per_chunk) + rebuilt;
    // The embedding's and LM head's activations live for as long as the first/last chunk's micro-batches.
    if (s == 0) u.activations += embedding * std::min(chunks, static_cast<double>(m));
    if (s == p - 1) u.activations += head;
    // Pipeline send/receive buffers (both directions) and, under ZeRO-3/FSDP, the gathered weights of the unit
    // running and the one prefetched, and the unit's full gradients before they are reduce-scattered.
    u.buffers = p > 1 ? hidden * 2.0 : Bytes(0);
    if (plan.zero >= 3)
      u.buffers += Bytes(chunk_parameters.largest_unit() * (2.0 * bytes.weight + bytes.gradient));
    u.peak = u.weights + u.gradients + u.optimizer + u.activations + u.buffers;
    if (first || u.peak > best.peak) best = u;
    first = false;
  }
  return best;
}

}  // namespace hpsim::planner
