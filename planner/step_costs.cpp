#include "planner/step_costs.hpp"

#include <algorithm>
#include <limits>

#include "models/formulas.hpp"
#include "models/operators.hpp"
#include "planner/rank_layout.hpp"
#include "sim/compute_cost.hpp"

namespace hpsim::planner {

using core::Bytes;
using core::Seconds;
using topologies::Collective;

namespace {

/// Forward, backward and recompute compute time of a list of operators, and their FLOPs.
struct OpsCost {
  Seconds forward, backward, recompute, attention_forward, attention_backward, gemm_forward, gemm_backward;
  double forward_flops = 0, backward_flops = 0, recompute_flops = 0;
};

OpsCost cost_ops(const std::vector<models::Operator>& ops, const sim::ComputeCost& compute,
                 models::Recompute recompute) {
  OpsCost c;
  for (const auto& op : ops) {
    const auto t = compute.time(op);
    c.forward += t.forward;
    c.backward += t.backward;
    c.forward_flops += op.forward_flops.value();
    c.backward_flops += op.backward_flops.value();
    if (op.attention_core) {
      c.attention_forward += t.forward;
      c.attention_backward += t.backward;
    }
    if (op.kind == models::OpKind::gemm) {
      c.gemm_forward += t.forward;
      c.gemm_backward += t.backward;
    }
    const bool redo = recompute == models::Recompute::full ||
                      (recompute == models::Recompute::selective && op.attention_core);
    if (redo) {
      c.recompute += t.forward;
      c.recompute_flops += op.forward_flops.value();
    }
  }
  return c;
}

Seconds exposed(Seconds comm, Seconds hidden_behind) {
  return std::max(Seconds(0), comm - hidden_behind);
}

double element_bytes(topologies::Precision p) { return p == topologies::Precision::fp32 ? 4.0 : 2.0; }

/// Parameters of one transformer layer held by one rank: dense parts split tp ways, experts tp*ep ways.
double layer_parameters_per_rank(const models::ModelSpec& m, const Plan& plan) {
  const double all = static_cast<double>(models::layer_parameters(m));
  if (!m.is_moe()) return all / static_cast<double>(plan.tp);
  const double per_expert = (m.mlp == models::MlpKind::swiglu ? 3.0 : 2.0) * static_cast<double>(m.hidden_size) *
                            static_cast<double>(m.ffn_hidden_size);
  const double experts = per_expert * static_cast<double>(m.num_experts);
  return (all - experts) / static_cast<double>(plan.tp) +
         experts / static_cast<double>(plan.tp * plan.ep);
}

}  // namespace

Seconds CollectiveChoice::time(Bytes bytes) const {
  if (models.empty() || bytes.value() <= 0) return Seconds(0);
  Seconds best(std::numeric_limits<double>::max());
  for (const auto& m : models) best = std::min(best, m.time(bytes));
  return best;
}

models::ModelSpec padded_model(const models::ModelSpec& model, std::int64_t tp) {
  models::ModelSpec m = model;
  const std::int64_t multiple = 128 * tp;
  m.vocab_size = (model.vocab_size + multiple - 1) / multiple * multiple;
  return m;
}

StepCosts compute_step_costs(const models::ModelSpec& raw_model, const topologies::ClusterSpec& cluster,
                             const topologies::CollectiveCoster& coster, const Plan& plan) {
  const models::ModelSpec model = padded_model(raw_model, plan.tp);
  const sim::ComputeCost compute(cluster.gpu, plan.precision);
  const RankLayout layout(plan);
  const double elt = element_bytes(plan.precision);

  models::ShardShape shard;
  shard.tp = plan.tp;
  shard.cp = plan.cp;
  shard.ep = plan.ep;
  shard.sp = plan.sp;
  shard.micro_batch = plan.micro_batch_size;
  shard.seq_length = plan.seq_length;
  shard.bytes_per_element = elt;
  shard.flash_attention = plan.flash_attention;

  // Communicator groups of the whole cluster: all groups of a kind run at once and share links.
  auto choice = [&](Collective op, const Groups& groups) { return CollectiveChoice{coster.models(op, groups)}; };
  const Groups tp_groups = layout.tp_groups();
  const CollectiveChoice tp_all_reduce = choice(Collective::all_reduce, tp_groups);
  const CollectiveChoice tp_all_gather = choice(Collective::all_gather, tp_groups);
  const CollectiveChoice tp_reduce_scatter = choice(Collective::reduce_scatter, tp_groups);

  // The hidden-state tensor of one micro-batch on one CP rank (what TP collectives and pipeline sends move).
  const double tokens = static_cast<double>(plan.micro_batch_size * plan.seq_length / plan.cp);
  const Bytes hidden_bytes(tokens * static_cast<double>(model.hidden_size) * elt);

  // Tensor-parallel traffic of one layer: 2 all-reduces per direction, or with SP 2 (all-gather + reduce-scatter).
  const Seconds tp_pair = plan.sp ? tp_all_gather.time(hidden_bytes) + tp_reduce_scatter.time(hidden_bytes)
                                  : tp_all_reduce.time(hidden_bytes);
  const Seconds layer_tp = tp_pair * 2.0;

  const auto layer_ops = models::lower_layer(model, shard);
  const OpsCost layer = cost_ops(layer_ops, compute, plan.recompute);
  const OpsCost embedding = cost_ops(models::lower_embedding(model, shard), compute, models::Recompute::none);
  const OpsCost head = cost_ops(models::lower_lm_head(model, shard), compute, models::Recompute::none);

  // TP overlap (Megatron --tp-comm-overlap) hides the collectives behind the neighbouring GEMMs.
  const Seconds layer_tp_fwd = plan.tp_comm_overlap ? exposed(layer_tp, layer.gemm_forward) : layer_tp;
  const Seconds layer_tp_bwd = plan.tp_comm_overlap ? exposed(layer_tp, layer.gemm_backward) : layer_tp;

  // Ring attention: cp-1 exchanges of this rank's K and V per layer, overlapped with the attention core.
  Seconds layer_cp_fwd, layer_cp_bwd;
  if (plan.cp > 1) {
    const CollectiveChoice ring = choice(Collective::send_recv, [&] {
      Groups pairs;
      for (const auto& g : layout.cp_groups())
        for (std::size_t i = 0; i < g.size(); ++i) pairs.push_back({g[i], g[(i + 1) % g.size()]});
      return pairs;
    }());
    const Bytes kv(2.0 * tokens * static_cast<double>(model.kv_hidden_size()) * elt);
    const double steps = static_cast<double>(plan.cp - 1);
    layer_cp_fwd = exposed(ring.time(kv) * steps, layer.attention_forward);
    layer_cp_bwd = exposed(ring.time(kv * 2.0) * steps, layer.attention_backward);
  }

  // Expert parallelism: token dispatch and combine all-to-alls, each way.
  Seconds layer_ep;
  if (model.is_moe() && plan.ep > 1) {
    const CollectiveChoice a2a = choice(Collective::all_to_all, layout.ep_groups());
    layer_ep = a2a.time(hidden_bytes * static_cast<double>(model.experts_per_token)) * 2.0;
  }

  const std::int64_t stages = plan.pp * plan.vpp;
  const double layers_per_chunk = static_cast<double>(model.num_layers / stages);
  const double layer_params = layer_parameters_per_rank(model, plan);
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
    c.parameters = layer_params * n;
    c.model_flops = (layer.forward_flops + layer.backward_flops) * n;
    c.hardware_flops = c.model_flops + layer.recompute_flops * n;
    const double tp_rank_share = 1.0 / static_cast<double>(plan.tp);
    if (vs == 0) {
      // Vocab-parallel embedding: its output is all-reduced (reduce-scattered with SP) over the TP group.
      c.forward += embedding.forward;
      c.backward += embedding.backward;
      c.forward_tp += plan.sp ? tp_reduce_scatter.time(hidden_bytes) : tp_all_reduce.time(hidden_bytes);
      c.parameters += static_cast<double>(models::embedding_parameters(model)) * tp_rank_share;
    }
    if (vs == stages - 1) {
      // LM head: its input is all-gathered with SP; the input gradient is all-reduced (reduce-scattered with SP).
      c.forward += head.forward;
      c.backward += head.backward;
      if (plan.sp) c.forward_tp += tp_all_gather.time(hidden_bytes);
      c.backward_tp += plan.sp ? tp_reduce_scatter.time(hidden_bytes) : tp_all_reduce.time(hidden_bytes);
      c.model_flops += head.forward_flops + head.backward_flops;
      c.hardware_flops += head.forward_flops + head.backward_flops;
      // A tied head still needs its own copy of the embedding on the last stage when pp > 1.
      const bool tied_copy = model.tie_embeddings && plan.pp > 1;
      const double head_params = static_cast<double>(models::lm_head_parameters(model)) +
                                 (tied_copy ? static_cast<double>(model.vocab_size * model.hidden_size) : 0.0);
      c.parameters += head_params * tp_rank_share;
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
          choice(Collective::send_recv, layout.pp_pairs(s)).time(slice) + regather;
  }

  // Data parallelism: gradients reduced over dp*cp ranks holding the same weights.
  if (plan.dp * plan.cp > 1) {
    const Groups dp_groups = layout.dp_groups();
    costs.grad_reduce = plan.parameter_servers > 0
                            ? CollectiveChoice{{coster.parameter_server_model(dp_groups, plan.parameter_servers)}}
                            : choice(plan.zero >= 1 ? Collective::reduce_scatter : Collective::all_reduce, dp_groups);
    if (plan.zero >= 1) costs.param_gather = choice(Collective::all_gather, dp_groups);
  }
  using topologies::Precision;
  if (model.tie_embeddings && plan.pp > 1) {
    Groups pairs;  // every (first stage, last stage) rank pair of one (tp, cp, dp) coordinate
    for (const auto& pair : layout.pp_pairs(plan.pp - 1)) pairs.push_back({pair[1], pair[0]});
    const double embedding = static_cast<double>(model.vocab_size * model.hidden_size) / static_cast<double>(plan.tp);
    const double grad = plan.precision == Precision::fp16 ? 2.0 : 4.0;
    costs.embedding_sync = choice(Collective::all_reduce, pairs).time(core::Bytes(embedding * grad));
  }
  // Megatron-LM keeps fp16 gradients for fp16 training and fp32 gradients for bf16 (and fp8) training.
  costs.grad_bytes_per_parameter = (plan.precision == Precision::fp16) ? 2.0 : 4.0;
  costs.weight_bytes_per_parameter = elt;
  costs.optimizer_bytes_per_parameter = plan.precision == Precision::fp32 ? 8.0 : 12.0;
  // Adam step (multi-tensor): read gradient (norm + update) and master weight + 2 moments, write them back, write
  // the 16-bit copy; fp16 also unscales the gradients and checks them for overflow (a read and a write).
  const double g = costs.grad_bytes_per_parameter;
  costs.optimizer_traffic_per_parameter = 2 * g + 2 * costs.optimizer_bytes_per_parameter +
                                          (plan.precision == Precision::fp32 ? 0.0 : elt) +
                                          (plan.precision == Precision::fp16 ? 2 * g : 0.0);
  costs.bucket_parameters = std::max(40e6, 1e6 * static_cast<double>(plan.dp * plan.cp));
  costs.memory_bandwidth = cluster.gpu.hbm_bandwidth * cluster.gpu.efficiency.memory_peak_fraction;
  costs.kernel_overhead = cluster.gpu.efficiency.kernel_overhead;
  return costs;
}

}  // namespace hpsim::planner
