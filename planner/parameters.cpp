#include "planner/parameters.hpp"

#include <algorithm>

#include "models/formulas.hpp"

namespace hpsim::planner {

ParameterBytes parameter_bytes(topologies::Precision precision, Framework framework, bool fp8_param_gather,
                               StateDtype grad_dtype, StateDtype optimizer_dtype) {
  using topologies::Precision;
  ParameterBytes b;
  b.weight = precision == Precision::fp32 ? 4.0 : 2.0;
  const bool fp8_weights = fp8_param_gather && precision == Precision::fp8;
  b.gathered_layer_weight = fp8_weights ? 1.0 : b.weight;
  b.gradient = precision == Precision::fp16 || grad_dtype == StateDtype::bf16 ? 2.0 : 4.0;
  const double state = optimizer_dtype == StateDtype::bf16 ? 2.0 : 4.0;  // one master weight or one Adam moment
  if (framework == Framework::fsdp) {
    // FSDP2 (torch fully_shard with MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32), as torchtitan sets
    // mixed_precision_param/_reduce): the sharded fp32 parameter is the master, cast to 16 bits when gathered; Adam
    // keeps its two fp32 moments; SHARD_GRAD_OP keeps the gathered weights until the backward is done.
    b.resident_weight = 4.0;
    b.optimizer = 2 * state;
    b.gathered_weights_held = true;
    // Adam: read the gradient twice (norm, update), read and write the parameter and both moments. No 16-bit copy
    // to write, and no FP8 copy: torchao casts the weight at use.
    b.optimizer_traffic = 2 * b.gradient + 2 * (b.resident_weight + b.optimizer);
    b.resident_layer_weight = b.resident_weight;  // the fp32 master: torchao casts it to FP8 before the gather
    return b;
  }
  // Megatron-LM, and DeepSpeed's engine: a 16-bit working copy and, in the optimizer, the master and moments (fp32
  // training: the weight is its own master).
  b.resident_weight = b.weight;
  b.resident_layer_weight = fp8_weights ? 1.0 : b.weight;
  b.optimizer = precision == Precision::fp32 ? 8.0 : 3 * state;
  // Adam (multi-tensor): read the gradient twice (norm, update), read and write master weight and moments, write
  // the 16-bit copy; fp16 also unscales the gradients and checks them for overflow (a read and a write).
  b.optimizer_traffic = 2 * b.gradient + 2 * b.optimizer + (precision == Precision::fp32 ? 0.0 : b.weight) +
                        (precision == Precision::fp16 ? 2 * b.gradient : 0.0);
  if (precision == Precision::fp8) b.optimizer_traffic += 2 * b.weight;  // read the weight, write FP8 + transpose
  return b;
}

ParameterBytes parameter_bytes(const Plan& plan) {
  return parameter_bytes(plan.precision, plan.framework, plan.fp8_param_gather, plan.grad_dtype,
                         plan.optimizer_dtype);
}

ChunkParameters::ChunkParameters(const models::ModelSpec& m, const Plan& plan) : split_(plan, m.num_layers) {
  const double tp = static_cast<double>(plan.tp);
  const double all = static_cast<double>(models::layer_parameters(m));
  double layer = all / tp;
  if (m.is_moe()) {
    const double per_expert = (m.gated_mlp() ? 3.0 : 2.0) * static_cast<double>(m.hidden_size) *
                              static_cast<double>(m.expert_ffn_hidden_size());
    const double experts = per_expert * static_cast<double>(m.num_experts);
    expert_layer_ = experts / static_cast<double>(plan.expert_tp() * plan.ep);
    layer = (all - experts) / tp + expert_layer_;
  }
  const std::int64_t stages = plan.pp * plan.vpp;
  last_stage_ = stages - 1;
  layer_ = layer;
  // Leading dense layers (first_k_dense_replace) hold no experts: split tp ways.
  dense_layers_ = m.dense_layers();
  if (dense_layers_ > 0) dense_layer_ = static_cast<double>(models::layer_parameters(m, models::LayerKind::leading_dense)) / tp;
  first_ = static_cast<double>(models::embedding_parameters(m)) / tp;
  const bool tied_copy = m.tie_embeddings && plan.pp > 1;
  last_ = (static_cast<double>(models::lm_head_parameters(m)) +
           (tied_copy ? static_cast<double>(m.vocab_size * m.hidden_size) : 0.0)) / tp;
}

double zero_shard(const Plan& plan, std::int64_t min_stage, bool expert) {
  if (plan.zero < min_stage) return 1.0;
  return static_cast<double>(std::max<std::int64_t>(1, expert ? plan.expert_dp() : plan.dp * plan.cp));
}

double chunk_parameters(const models::ModelSpec& m, const Plan& plan, std::int64_t vs) {
  return ChunkParameters(m, plan)(vs);
}

}  // namespace hpsim::planner
