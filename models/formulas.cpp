#include "models/formulas.hpp"

#include "models/operators.hpp"

namespace hpsim::models {
namespace {

std::int64_t norm_parameters(const ModelSpec& m) {
  return m.norm == NormKind::layernorm ? 2 * m.hidden_size : m.hidden_size;  // weight (+ bias)
}

/// One expert's (or the dense) MLP: GELU h*f + f*h, SwiGLU gate, up and down; biases if the model has them.
std::int64_t mlp_parameters(const ModelSpec& m) {
  const std::int64_t h = m.hidden_size, f = m.ffn_hidden_size;
  if (m.mlp == MlpKind::swiglu) return 3 * h * f + (m.linear_bias ? 2 * f + h : 0);
  return 2 * h * f + (m.linear_bias ? f + h : 0);
}

/// A layer holding `experts` experts (the dense MLP when the model is not MoE).
std::int64_t layer_parameters_with(const ModelSpec& m, std::int64_t experts) {
  const std::int64_t h = m.hidden_size, qkv_out = h + 2 * m.kv_hidden_size();
  const std::int64_t attention = h * qkv_out + h * h + (m.linear_bias ? qkv_out + h : 0);
  const std::int64_t mlp = m.is_moe() ? h * m.num_experts + experts * mlp_parameters(m) : mlp_parameters(m);
  return attention + mlp + 2 * norm_parameters(m);
}

}  // namespace

std::int64_t layer_parameters(const ModelSpec& m) { return layer_parameters_with(m, m.num_experts); }

std::int64_t embedding_parameters(const ModelSpec& m) {
  return m.vocab_size * m.hidden_size + (m.position == PositionKind::learned ? m.seq_length * m.hidden_size : 0);
}

std::int64_t lm_head_parameters(const ModelSpec& m) { return m.tie_embeddings ? 0 : m.vocab_size * m.hidden_size; }

std::int64_t total_parameters(const ModelSpec& m) {
  return m.num_layers * layer_parameters(m) + embedding_parameters(m) + norm_parameters(m) + lm_head_parameters(m);
}

std::int64_t active_parameters(const ModelSpec& m) {
  return m.num_layers * layer_parameters_with(m, m.experts_per_token) + embedding_parameters(m) +
         norm_parameters(m) + lm_head_parameters(m);
}

core::Flops megatron_step_flops(const ModelSpec& m, std::int64_t global_batch, std::int64_t seq_length,
                                bool full_recompute) {
  const double B = double(global_batch), s = double(seq_length), l = double(m.num_layers);
  const double h = double(m.hidden_size), V = double(m.vocab_size);
  if (full_recompute) return core::Flops(96.0 * B * s * l * h * h * (1.0 + s / (6.0 * h) + V / (16.0 * l * h)));
  return core::Flops(72.0 * B * s * l * h * h * (1.0 + s / (6.0 * h) + V / (12.0 * l * h)));
}

core::Flops model_step_flops(const ModelSpec& m, std::int64_t global_batch, std::int64_t seq_length) {
  ShardShape one;  // one whole sequence on one GPU
  one.seq_length = seq_length;
  auto matmul_flops = [](const std::vector<Operator>& ops) {
    core::Flops sum;
    for (const auto& op : ops)
      if (op.kind != OpKind::elementwise) sum += op.forward_flops;
    return sum;
  };
  const core::Flops forward =
      matmul_flops(lower_layer(m, one)) * double(m.num_layers) + matmul_flops(lower_lm_head(m, one));
  return forward * (3.0 * double(global_batch));  // backward = 2x forward
}

core::Bytes korthikanti_activation_bytes(const ModelSpec& m, std::int64_t seq_length, std::int64_t micro_batch,
                                         std::int64_t tp, bool sp, Recompute recompute) {
  const double s = double(seq_length), b = double(micro_batch), h = double(m.hidden_size);
  const double a = double(m.num_heads), t = double(tp);
  const double sbh = s * b * h;
  const double attention = recompute == Recompute::selective ? 0.0 : 5.0 * a * s / h;
  if (recompute == Recompute::full) return core::Bytes(sp ? 2.0 * sbh / t : 2.0 * sbh);  // the layer input only
  if (sp) return core::Bytes(sbh / t * (34.0 + attention));
  return core::Bytes(sbh * (10.0 + 24.0 / t + attention / t));
}

}  // namespace hpsim::models
