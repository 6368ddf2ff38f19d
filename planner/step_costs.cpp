#include "planner/step_costs.hpp"

#include <algorithm>
#include <limits>

#include "models/formulas.hpp"
#include "models/operators.hpp"
#include "planner/parameters.hpp"
#include "planner/rank_layout.hpp"

namespace hpsim::planner {

using core::Bytes;
using core::Seconds;
using topologies::Collective;

namespace {

Seconds exposed(Seconds comm, Seconds hidden_behind) { return std::max(Seconds(0), comm - hidden_behind); }

double element_bytes(topologies::Precision p) { return p == topologies::Precision::fp32 ? 4.0 : 2.0; }

}  // namespace

StepCosts compute_step_costs(const Scenario& scenario, const Plan& plan) {
  CostCache cache(scenario);
  return compute_step_costs(cache, plan);
}

core::Seconds optimizer_step_time(const StepCosts& costs, const Plan& plan, double parameters) {
  const double shard = plan.zero >= 1 ? static_cast<double>(plan.dp * plan.cp) : 1.0;
  return core::Bytes(parameters / shard * costs.bytes.optimizer_traffic) / costs.memory_bandwidth +
         costs.kernel_overhead;
}

StepCosts compute_step_costs(CostCache& cache, const Plan& plan) {
  const models::ModelSpec& model = cache.model(plan.tp);
  const topologies::ClusterSpec& cluster = cache.cluster();
  const double elt = element_bytes(plan.precision);

  // Communicators: every group of a kind runs at once and shares links with its siblings.
  auto choice = [&](Collective op, Communicator comm, std::int64_t stage = 0) {
    return cache.collective(op, comm, plan, stage);
  };
  const bool tp_comm = plan.tp > 1;
  const CollectiveChoice tp_all_reduce = tp_comm ? choice(Collective::all_reduce, Communicator::tp) : CollectiveChoice{};
  const CollectiveChoice tp_all_gather = tp_comm ? choice(Collective::all_gather, Communicator::tp) : CollectiveChoice{};
  const CollectiveChoice tp_reduce_scatter =
      tp_comm ? choice(Collective::reduce_scatter, Communicator::tp) : CollectiveChoice{};

  // The hidden-state tensor of one micro-batch on one CP rank (what TP collectives and pipeline sends move).
  const double tokens = static_cast<double>(plan.micro_batch_size * plan.seq_length / plan.cp);
  const Bytes hidden_bytes(tokens * static_cast<double>(model.hidden_size) * elt);

  // Tensor-parallel traffic of one layer: 2 all-reduces per direction, or with SP 2 (all-gather + reduce-scatter).
  const Seconds tp_pair = plan.sp ? tp_all_gather.time(hidden_bytes) + tp_reduce_scatter.time(hidden_bytes)
                                  : tp_all_reduce.time(hidden_bytes);
  const Seconds layer_tp = tp_pair * 2.0;

  const OpsCost layer = cache.ops(OpsPart::layer, plan);
  const OpsCost embedding = cache.ops(OpsPart::embedding, plan);
  const OpsCost head = cache.ops(OpsPart::lm_head, plan);

  // TP overlap (Megatron --tp-comm-overlap) hides the collectives behind the neighbouring GEMMs.
  const Seconds layer_tp_fwd = plan.tp_comm_overlap ? exposed(layer_tp, layer.gemm_forward) : layer_tp;
  const Seconds layer_tp_bwd = plan.tp_comm_overlap ? exposed(layer_tp, layer.gemm_backward) : layer_tp;

  // Ring attention: cp-1 exchanges of this rank's K and V per layer, overlapped with the attention core.
  Seconds layer_cp_fwd, layer_cp_bwd;
  if (plan.cp > 1) {
    const CollectiveChoice ring = choice(Collective::send_recv, Communicator::cp_ring);
    const Bytes kv(2.0 * tokens * static_cast<double>(model.kv_hidden_size()) * elt);
    const double steps = static_cast<double>(plan.cp - 1);
    layer_cp_fwd = ring.time(kv) * steps;
    layer_cp_bwd = ring.time(kv * 2.0) * steps;
    if (plan.cp_comm_overlap) {
      layer_cp_fwd = exposed(layer_cp_fwd, layer.attention_forward);
      layer_cp_bwd = exposed(layer_cp_bwd, layer.attention_backward);
    }
  }

  // Expert parallelism: token dispatch and combine all-to-alls, each way.
  Seconds layer_ep;
  if (model.is_moe() && plan.ep > 1) {
    const CollectiveChoice a2a = choice(Collective::all_to_all, Communicator::ep);
    layer_ep = a2a.time(hidden_bytes * static_cast<double>(model.experts_per_token)) * 2.0;
  }

  const std::int64_t stages = plan.pp * plan.vpp;
  const double layers_per_chunk = static_cast<double>(model.num_layers / stages);
  const bool full = plan.recompute == models::Recompute::full;

  StepCosts costs;
  costs.chunks.resize(static_cast<std::size_t>(stages));
  for (std::int64_t vs = 0; vs < stages; ++vs) {
    ChunkCost& c = costs.chunks[static_cast<std::size_t>(vs)];
    const double n = layers_per_chunk;
    c.forward = layer.forward * n;
    c.backward = layer.backward * n;
    c.recompute = layer.recompute * n;
    c.forward_tp = layer_tp_fwd * n;
    c.backward_tp = layer_tp_bwd * n;
    c.recompute_tp = full ? layer_tp_fwd * n : Seconds(0);
    c.forward_cp = layer_cp_fwd * n;
    c.backward_cp = layer_cp_bwd * n + (full ? layer_cp_fwd * n : Seconds(0));
    c.forward_ep = layer_ep * n;
    c.backward_ep = layer_ep * n + (full ? layer_ep * n : Seconds(0));
    c.parameters = chunk_parameters(model, plan, vs);
    c.model_flops = (layer.forward_flops + layer.backward_flops) * n;
    c.hardware_flops = c.model_flops + layer.recompute_flops * n;
    if (vs == 0) {
      // Vocab-parallel embedding: its output is all-reduced (reduce-scattered with SP) over the TP group.
      c.forward += embedding.forward;
      c.backward += embedding.backward;
      c.forward_tp += plan.sp ? tp_reduce_scatter.time(hidden_bytes) : tp_all_reduce.time(hidden_bytes);
    }
    if (vs == stages - 1) {
      // LM head: its input is all-gathered with SP; the input gradient is all-reduced (reduce-scattered with SP).
      c.forward += head.forward;
      c.backward += head.backward;
      if (plan.sp) c.forward_tp += tp_all_gather.time(hidden_bytes);
      c.backward_tp += plan.sp ? tp_reduce_scatter.time(hidden_bytes) : tp_all_reduce.time(hidden_bytes);
      c.model_flops += head.forward_flops + head.backward_flops;
      c.hardware_flops += head.forward_flops + head.backward_flops;
    }
  }

  // Pipeline sends: each TP rank sends its 1/tp slice (Megatron's scatter-gather, or the SP shard); without SP the
  // receiver all-gathers the slices over NVLink.
  costs.pp_send.resize(static_cast<std::size_t>(plan.pp));
  if (plan.pp > 1) {
    const Bytes slice = hidden_bytes / static_cast<double>(plan.tp);
    const Seconds regather = (!plan.sp && plan.tp > 1) ? tp_all_gather.time(hidden_bytes) : Seconds(0);
    for (std::int64_t s = 0; s < plan.pp; ++s)
      costs.pp_send[static_cast<std::size_t>(s)] =
          choice(Collective::send_recv, Communicator::pp_boundary, s).time(slice) + regather;
  }

  // Data parallelism: gradients reduced over dp*cp ranks holding the same weights.
  if (plan.dp * plan.cp > 1) {
    costs.grad_reduce = plan.parameter_servers > 0
                            ? cache.parameter_server(plan)
                            : choice(plan.zero >= 1 ? Collective::reduce_scatter : Collective::all_reduce,
                                     Communicator::dp);
    if (plan.zero >= 1) costs.param_gather = choice(Collective::all_gather, Communicator::dp);
  }
  if (model.tie_embeddings && plan.pp > 1) {
    const double embedding = static_cast<double>(model.vocab_size * model.hidden_size) / static_cast<double>(plan.tp);
    costs.embedding_sync = choice(Collective::all_reduce, Communicator::embedding_pair)
                               .time(core::Bytes(embedding * parameter_bytes(plan.precision).gradient));
  }
  costs.bytes = parameter_bytes(plan.precision);
  costs.bucket_parameters = std::max(40e6, 1e6 * static_cast<double>(plan.dp * plan.cp));
  costs.memory_bandwidth = cluster.gpu.hbm_bandwidth * cluster.gpu.efficiency.memory_peak_fraction;
  costs.kernel_overhead = cluster.gpu.efficiency.kernel_overhead;
  return costs;
}

}  // namespace hpsim::planner
