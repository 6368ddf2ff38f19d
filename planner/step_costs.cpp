#include "planner/step_costs.hpp"

#include "sim/task_graph.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "models/formulas.hpp"
#include "costs/compute_cost.hpp"
#include "models/operators.hpp"
#include "planner/mixed_cluster.hpp"
#include "planner/parameters.hpp"
#include "planner/pipeline_split.hpp"
#include "planner/rank_layout.hpp"

namespace hpsim::planner {

using core::Bytes;
using core::Seconds;
using costs::Collective;

namespace {

Seconds exposed(Seconds comm, Seconds hidden_behind) { return std::max(Seconds(0), comm - hidden_behind); }

/// A TP collective overlapped with its own GEMM by splitting both into `chunks` pieces (Transformer Engine's
/// userbuffers and PyTorch's async TP cut them tp ways): one chunk's GEMM runs while another chunk moves. An
/// all-gather's first chunk is local, so the GEMM of the last chunk hides nothing; a reduce-scatter can only send a
/// chunk once its GEMM is done, so the last chunk's transfer is exposed.
Seconds pipelined_exposed(Seconds comm, Seconds gemm, std::int64_t chunks, bool comm_after_gemm) {
  const double n = static_cast<double>(chunks);
  const Seconds uncovered = exposed(comm, gemm * ((n - 1) / n));
  return comm_after_gemm ? std::max(uncovered, comm / n) : uncovered;
}

double element_bytes(topologies::Precision p) { return p == topologies::Precision::fp32 ? 4.0 : 2.0; }

}  // namespace

StepCosts compute_step_costs(const Scenario& scenario, const Plan& plan) {
  CostCache cache(scenario);
  return compute_step_costs(cache, plan);
}

std::int64_t gradient_buckets(const StepCosts& costs, const ChunkCost& chunk) {
  constexpr double kMaxBuckets = 1024;
  return static_cast<std::int64_t>(std::clamp(std::ceil(chunk.parameters / costs.bucket_parameters), 1.0, kMaxBuckets));
}

core::Seconds optimizer_step_time(const StepCosts& costs, const Plan& plan, double parameters, double experts) {
  return core::Bytes(sharded_parameters(plan, 1, parameters, experts) * costs.bytes.optimizer_traffic) /
             costs.memory_bandwidth +
         costs.kernel_overhead;
}

namespace {

/// One layer's exposed communication per micro-batch, and the TP collectives and hidden-state size the pipeline's
/// ends and boundaries need too.
struct LayerComm {
  CollectiveChoice tp_all_reduce, tp_all_gather, tp_reduce_scatter;
  Bytes hidden_bytes;  ///< the hidden-state tensor of one micro-batch on one CP rank
  Seconds tp_forward, tp_backward, cp_forward, cp_backward, ep;
  Seconds tp_gathers;  ///< SP's all-gathers into the column-parallel GEMMs (forward), not overlapped
  /// PyTorch's async TP: the kernels that sum the stacked partial outputs of its matmul-reduce-scatters (forward:
  /// the row-parallel GEMMs' outputs; backward: the column-parallel GEMMs' input gradients). Compute, not traffic.
  Seconds tp_partials_forward, tp_partials_backward;

  /// The TP exchange at the embedding's output or the LM head's input gradient: all-reduce, or reduce-scatter
  /// with SP.
  [[nodiscard]] Seconds tp_end(bool sp) const {
    return sp ? tp_reduce_scatter.time(hidden_bytes) : tp_all_reduce.time(hidden_bytes);
  }
};

/// The token dispatcher's traffic of one MoE layer per micro-batch, each way (dispatch before the experts, combine
/// after; the backward pass runs both again), as Megatron-Core's dispatchers move it
/// (megatron/core/transformer/moe/token_dispatcher.py). Each rank routes its 1/tp of the tokens (the
/// sequence-parallel shard), top_k copies each; the most loaded rank (moe_load_factor) decides.
/// - alltoall: the copies cross the expert-parallel group (1/ep of them stay on the rank: the coster sends only the
///   rest), then the expert TP group all-gathers them (each expert's columns are split etp ways); combine is the
///   reduce-scatter and the all-to-all back.
/// - allgather: every token (not its copies) is all-gathered over the etp*ep ranks of the experts' grid; combine
///   reduce-scatters the outputs.
/// `token_bytes`: the hidden state of the micro-batch's tokens on one CP rank, per hidden element.
void add_moe_communication(LayerComm& c, CostCache& cache, const Plan& plan, const models::ModelSpec& model,
                           double token_bytes) {
  const double hidden = token_bytes * static_cast<double>(model.hidden_size);
  const double routed = hidden / static_cast<double>(plan.tp);  // this rank's shard
  const double etp = static_cast<double>(plan.expert_tp());
  if (plan.moe_token_dispatcher == MoeDispatcher::allgather) {
    if (plan.expert_tp() * plan.ep == 1) return;
    const Bytes gathered(routed * etp * static_cast<double>(plan.ep));
    c.ep = cache.collective(Collective::all_gather, Communicator::expert_tp_ep, plan).time(gathered) +
           cache.collective(Collective::reduce_scatter, Communicator::expert_tp_ep, plan).time(gathered);
    return;
  }
  const double copies = routed * static_cast<double>(model.experts_per_token) * plan.moe_load_factor();
  if (plan.ep > 1) c.ep = cache.collective(Collective::all_to_all, Communicator::ep, plan).time(Bytes(copies)) * 2.0;
  if (plan.expert_tp() > 1) {
    const Bytes gathered(copies * etp);
    const Seconds pair = cache.collective(Collective::all_gather, Communicator::expert_tp, plan).time(gathered) +
                         cache.collective(Collective::reduce_scatter, Communicator::expert_tp, plan).time(gathered);
    c.tp_forward += pair;
    c.tp_backward += pair;
  }
}

LayerComm layer_communication(CostCache& cache, const Plan& plan, const models::ModelSpec& model, const OpsCost& layer,
                              bool routed) {
  // Communicators: every group of a kind runs at once and shares links with its siblings.
  auto choice = [&](Collective op, Communicator comm) { return cache.collective(op, comm, plan); };
  LayerComm c;
  if (plan.tp > 1) {
    c.tp_all_reduce = choice(Collective::all_reduce, Communicator::tp);
    c.tp_all_gather = choice(Collective::all_gather, Communicator::tp);
    c.tp_reduce_scatter = choice(Collective::reduce_scatter, Communicator::tp);
  }
  const double elt = element_bytes(plan.precision);
  const double tokens = static_cast<double>(plan.micro_batch_size * plan.seq_length / plan.cp);
  c.hidden_bytes = Bytes(tokens * static_cast<double>(model.hidden_size) * elt);

  // Tensor-parallel traffic of one layer: 2 all-reduces per direction, or with SP 2 (all-gather + reduce-scatter);
  // TP overlap (Megatron --tp-comm-overlap, torchtitan's async TP) hides each behind its own GEMM. An MoE layer has
  // the attention's pair alone: its experts' TP traffic is the token dispatcher's (moe_communication).
  // FP8 with one scale per tensor gathers the quantized inputs (1 byte per element): Transformer Engine all-gathers
  // its norm's FP8 output, torchao's Float8ColwiseParallel its FP8 cast (tensorwise only; torchtitan gathers 16-bit
  // with finer scales). Reductions sum 16-bit GEMM outputs.
  const bool fp8_gather = plan.precision == topologies::Precision::fp8 &&
                          (plan.fp8_recipe == costs::Fp8Recipe::delayed || plan.fp8_recipe == costs::Fp8Recipe::tensorwise);
  // Per pair: what moves into the column-parallel GEMMs (SP's all-gather; nothing without SP) and out of the
  // row-parallel one (SP's reduce-scatter, or the all-reduce); the backward runs them the other way round.
  const Seconds into = plan.sp ? c.tp_all_gather.time(c.hidden_bytes * (fp8_gather ? 0.5 : 1.0)) : Seconds(0);
  const Seconds out_of = plan.sp ? c.tp_reduce_scatter.time(c.hidden_bytes) : c.tp_all_reduce.time(c.hidden_bytes);
  const std::size_t pairs = routed ? 1 : 2;
  c.tp_forward = (into + out_of) * static_cast<double>(pairs);
  c.tp_gathers = into * static_cast<double>(pairs);
  c.tp_backward = c.tp_forward;
  if (plan.tp_comm_overlap && plan.tp > 1) {
    c.tp_forward = Seconds(0);
    c.tp_backward = Seconds(0);
    const auto& f = layer.tp_gemm_forward;
    const auto& b = layer.tp_gemm_backward;
    for (std::size_t pair = 0; pair < pairs; ++pair) {
      const std::size_t in = 2 * pair, out = 2 * pair + 1;  // column-parallel (input) and row-parallel (output) side
      // Forward: into -> input GEMMs, output GEMM -> out of. Backward: the input GEMMs' data gradient goes out,
      // the output GEMM's gradient comes in before it.
      c.tp_forward += pipelined_exposed(into, f[in], plan.tp, false) + pipelined_exposed(out_of, f[out], plan.tp, true);
      c.tp_backward += pipelined_exposed(out_of, b[in], plan.tp, true) + pipelined_exposed(into, b[out], plan.tp, false);
    }
    if (plan.framework == Framework::fsdp) {
      // PyTorch's async TP (torch/distributed/_symmetric_memory, fused_matmul_reduce_scatter) does not reduce in
      // flight as NCCL's ring does: each rank's matmul chunks are copied unreduced into the owner's stacked
      // partials, which one reduction kernel then sums: it reads the tp partials (the whole unreduced output) and
      // writes the owner's 1/tp share, at HBM speed.
      const costs::ComputeCost compute(cache.cluster().gpu, kernel_choice(plan));
      const Seconds sum = compute.memory_time(c.hidden_bytes * (1.0 + 1.0 / static_cast<double>(plan.tp)));
      c.tp_partials_forward = sum * static_cast<double>(pairs);
      c.tp_partials_backward = c.tp_partials_forward;
    }
  }

  // Ring attention: cp-1 exchanges of this rank's K and V per layer, overlapped with the attention core.
  if (plan.cp > 1) {
    const CollectiveChoice ring = choice(Collective::send_recv, Communicator::cp_ring);
    const Bytes kv(2.0 * tokens * static_cast<double>(model.kv_hidden_size()) * elt);
    const double steps = static_cast<double>(plan.cp - 1);
    c.cp_forward = ring.time(kv) * steps;
    c.cp_backward = ring.time(kv * 2.0) * steps;
    if (plan.cp_comm_overlap) {
      c.cp_forward = exposed(c.cp_forward, layer.attention_forward);
      c.cp_backward = exposed(c.cp_backward, layer.attention_backward);
    }
  }
  if (routed) add_moe_communication(c, cache, plan, model, tokens * elt);
  return c;
}

/// What every chunk of a plan is built from: one layer's operators and communication, the embedding's, the head's;
/// for an MoE model that leads with dense layers, one of those too (only then: the common case costs one layer).
struct ChunkParts {
  ChunkParts(CostCache& cache, const Plan& plan)
      : model(cache.model(plan.tp)), layer(cache.ops(OpsPart::layer, plan)),
        embedding(cache.ops(OpsPart::embedding, plan)), head(cache.ops(OpsPart::lm_head, plan)),
        comm(layer_communication(cache, plan, model, layer, model.is_moe())), dense_layers(model.dense_layers()) {
    if (dense_layers == 0) return;
    dense = cache.ops(OpsPart::dense_layer, plan);
    dense_comm = layer_communication(cache, plan, model, dense, false);  // a dense MLP: its own TP pair, no routing
  }
  const models::ModelSpec& model;
  OpsCost layer, embedding, head;
  LayerComm comm;
  std::int64_t dense_layers;  ///< the model's leading dense layers
  OpsCost dense;              ///< one of them (when there are any)
  LayerComm dense_comm;
};

/// Adds `layers` layers of one kind to a chunk's passes and FLOPs.
void add_layers(ChunkCost& c, std::int64_t layers, const OpsCost& layer, const LayerComm& comm, const Plan& plan) {
  const double n = static_cast<double>(layers);
  const bool full = plan.recompute == models::Recompute::full;
  c.forward += (layer.forward + comm.tp_partials_forward) * n;
  c.backward += (layer.backward + comm.tp_partials_backward) * n;
  c.recompute += (layer.recompute + (full ? comm.tp_partials_forward : Seconds(0))) * n;
  c.forward_tp += comm.tp_forward * n;
  c.backward_tp += comm.tp_backward * n;
  // Full recomputation redoes the forward's TP traffic. PyTorch's per-op checkpointing saves the reduce-scatters'
  // outputs but not the all-gathers' (torchtitan's op-SAC save list), so it gathers the layer's inputs again for the
  // GEMMs it redoes and the weight gradients that read them.
  const bool op_sac = plan.recompute == models::Recompute::op_selective;
  c.recompute_tp += full ? comm.tp_forward * n : op_sac ? comm.tp_gathers * n : Seconds(0);
  c.forward_cp += comm.cp_forward * n;
  c.backward_cp += comm.cp_backward * n + (full ? comm.cp_forward * n : Seconds(0));
  c.forward_ep += comm.ep * n;
  c.backward_ep += comm.ep * n + (full ? comm.ep * n : Seconds(0));
  const double flops = (layer.forward_flops + layer.backward_flops) * n;
  c.model_flops += flops;
  c.hardware_flops += flops + layer.recompute_flops * n;
}

/// One virtual stage's passes: `layers` layers, `dense` of them the model's leading dense layers, plus the embedding
/// when it is the first virtual stage and the LM head when it is the last.
ChunkCost chunk_cost(std::int64_t layers, std::int64_t dense, bool first, bool last, const Plan& plan,
                     const ChunkParts& parts) {
  const LayerComm& comm = parts.comm;
  ChunkCost c;
  c.layers = layers;
  add_layers(c, layers - dense, parts.layer, comm, plan);
  if (dense > 0) add_layers(c, dense, parts.dense, parts.dense_comm, plan);
  c.units = layers + (first ? 1 : 0) + (last ? 1 : 0);
  if (first) {
    // Vocab-parallel embedding: its output is all-reduced (reduce-scattered with SP) over the TP group.
    c.forward += parts.embedding.forward;
    c.backward += parts.embedding.backward;
    c.forward_tp += comm.tp_end(plan.sp);
  }
  if (last) {
    // LM head: its input is all-gathered with SP; the input gradient is all-reduced (reduce-scattered with SP).
    const OpsCost& head = parts.head;
    c.forward += head.forward;
    c.backward += head.backward;
    if (plan.sp) c.forward_tp += comm.tp_all_gather.time(comm.hidden_bytes);
    c.backward_tp += comm.tp_end(plan.sp);
    c.model_flops += head.forward_flops + head.backward_flops;
    c.hardware_flops += head.forward_flops + head.backward_flops;
  }
  return c;
}

/// Pipeline sends, data-parallel collectives, the tied embedding's synchronization and the optimizer's rates, as far
/// as `scope` asks.
void add_step_collectives(StepCosts& costs, CostCache& cache, const Plan& plan, const models::ModelSpec& model,
                          const LayerComm& comm, CostScope scope) {
  // Pipeline sends: each TP rank sends its 1/tp slice (Megatron's scatter-gather, or the SP shard); without SP the
  // receiver all-gathers the slices over NVLink.
  costs.pp_send.resize(static_cast<std::size_t>(plan.pp));
  if (plan.pp > 1 && scope != CostScope::chunks) {
    const Bytes slice = comm.hidden_bytes / static_cast<double>(plan.tp);
    const Seconds regather = (!plan.sp && plan.tp > 1) ? comm.tp_all_gather.time(comm.hidden_bytes) : Seconds(0);
    for (std::int64_t s = 0; s < plan.pp; ++s)
      costs.pp_send[static_cast<std::size_t>(s)] =
          cache.collective(Collective::send_recv, Communicator::pp_boundary, plan, s).time(slice) + regather;
  }
  // Data parallelism: gradients reduced over dp*cp ranks holding the same weights.
  if (plan.dp * plan.cp > 1 && scope == CostScope::step) {
    costs.grad_reduce = plan.parameter_servers > 0
                            ? cache.parameter_server(plan)
                            : cache.collective(plan.zero >= 1 ? Collective::reduce_scatter : Collective::all_reduce,
                                               Communicator::dp, plan);
    if (plan.zero >= 1) costs.param_gather = cache.collective(Collective::all_gather, Communicator::dp, plan);
  }
  costs.bytes = parameter_bytes(plan);
  if (model.tie_embeddings && plan.pp > 1 && scope == CostScope::step) {
    const double embedding = static_cast<double>(model.vocab_size * model.hidden_size) / static_cast<double>(plan.tp);
    costs.embedding_sync = cache.collective(Collective::all_reduce, Communicator::embedding_pair, plan)
                               .time(core::Bytes(embedding * costs.bytes.gradient));
  }
  const auto& gpu = cache.cluster().gpu;
  costs.bucket_parameters = std::max(40e6, 1e6 * static_cast<double>(plan.dp * plan.cp));
  costs.memory_bandwidth = gpu.hbm_bandwidth * gpu.efficiency.memory_peak_fraction;
  costs.kernel_overhead = gpu.efficiency.kernel_overhead;
  if (gpu.sm_count > 0)
    costs.collective_processor_share = std::min(
        cache.cluster().collective_kernel_sms / static_cast<double>(gpu.sm_count), sim::kMaxProcessorShare);
}

}  // namespace

StepCosts compute_step_costs(CostCache& cache, const Plan& plan, CostScope scope) {
  if (cache.groups() > 0) return mixed_step_costs(cache, plan, scope);  // each stage on its node group
  const ChunkParts parts(cache, plan);
  StepCosts costs;
  const std::int64_t stages = plan.pp * plan.vpp;
  costs.chunks.reserve(static_cast<std::size_t>(stages));
  const PipelineSplit split(plan, parts.model.num_layers);
  const ChunkParameters parameters(parts.model, plan);
  for (std::int64_t vs = 0; vs < stages; ++vs) {
    costs.chunks.push_back(chunk_cost(split.layers(vs), split.layers_among_first(vs, parts.dense_layers), vs == 0,
                                      vs == stages - 1, plan, parts));
    costs.chunks.back().parameters = parameters(vs);
    costs.chunks.back().expert_parameters = parameters.experts(vs);
    costs.chunks.back().end_parameters = parameters.ends(vs);
  }
  add_step_collectives(costs, cache, plan, parts.model, parts.comm, scope);
  return costs;
}

PipelineUnitCosts pipeline_unit_costs(CostCache& cache, const Plan& plan) {
  const ChunkParts parts(cache, plan);
  PipelineUnitCosts u;
  u.layer = chunk_cost(1, 0, false, false, plan, parts).work();
  u.dense_layer = parts.dense_layers > 0 ? chunk_cost(1, 1, false, false, plan, parts).work() : u.layer;
  u.dense_layers = parts.dense_layers;
  u.embedding = chunk_cost(0, 0, true, false, plan, parts).work();
  u.head = chunk_cost(0, 0, false, true, plan, parts).work();
  return u;
}

}  // namespace hpsim::planner
