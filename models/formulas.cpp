#include "models/formulas.hpp"

#include "models/operators.hpp"

namespace hpsim::models {
namespace {

/// A norm over `width` features: weight (+ bias for LayerNorm).
std::int64_t norm_parameters(const ModelSpec& m, std::int64_t width) {
  return m.norm == NormKind::layernorm ? 2 * width : width;
}
std::int64_t norm_parameters(const ModelSpec& m) { return norm_parameters(m, m.hidden_size); }

/// An MLP of inner size `f`: GELU or squared ReLU h*f + f*h, SwiGLU or GeGLU gate, up and down; biases if the model
/// has them.
std::int64_t mlp_parameters(const ModelSpec& m, std::int64_t f) {
  const std::int64_t h = m.hidden_size;
  if (m.gated_mlp()) return 3 * h * f + (m.linear_bias ? 2 * f + h : 0);
  return 2 * h * f + (m.linear_bias ? f + h : 0);
}

/// Multi-head latent attention (DeepSeek-V2 Sec. 2.1): queries through a q_lora_rank latent (or straight from h),
/// keys and values through a kv_lora_rank latent plus one shared rotary key, each latent normed; output from
/// heads*v_head_dim.
std::int64_t mla_parameters(const ModelSpec& m) {
  const std::int64_t h = m.hidden_size, a = m.num_heads, qk = m.qk_head_dim(), bias = m.linear_bias ? 1 : 0;
  const std::int64_t q = m.q_lora_rank > 0 ? h * m.q_lora_rank + norm_parameters(m, m.q_lora_rank) +
                                                 m.q_lora_rank * a * qk + bias * (m.q_lora_rank + a * qk)
                                           : h * a * qk + bias * a * qk;
  const std::int64_t down = m.kv_lora_rank + m.qk_rope_head_dim;
  const std::int64_t up = a * (m.qk_nope_head_dim + m.v_head_dim);
  const std::int64_t kv = h * down + norm_parameters(m, m.kv_lora_rank) + m.kv_lora_rank * up + bias * (down + up);
  return q + kv + a * m.v_head_dim * h + bias * h;
}

std::int64_t attention_parameters(const ModelSpec& m) {
  if (m.is_mla()) return mla_parameters(m);
  const std::int64_t h = m.hidden_size, q_out = m.num_heads * m.head_dim(), qkv_out = q_out + 2 * m.kv_hidden_size();
  return h * qkv_out + q_out * h + (m.linear_bias ? qkv_out + h : 0);
}

/// A layer of `kind` with `routed` routed experts (the dense MLP when the model is not MoE or the layer is one of
/// its leading dense ones): attention, two norms, the MLP or the router, the routed and the shared experts.
std::int64_t layer_parameters_with(const ModelSpec& m, LayerKind kind, std::int64_t routed) {
  std::int64_t mlp = mlp_parameters(m, m.ffn_hidden_size);
  if (m.is_moe() && kind == LayerKind::usual)
    mlp = m.hidden_size * m.num_experts + routed * mlp_parameters(m, m.expert_ffn_hidden_size()) +
          (m.shared_experts > 0 ? mlp_parameters(m, m.shared_ffn_hidden_size()) : 0);
  return attention_parameters(m) + mlp + 2 * norm_parameters(m);
}

/// Every layer, with `routed` routed experts in each MoE layer.
std::int64_t all_layers_with(const ModelSpec& m, std::int64_t routed) {
  const std::int64_t dense = m.dense_layers();
  return (m.num_layers - dense) * layer_parameters_with(m, LayerKind::usual, routed) +
         dense * layer_parameters_with(m, LayerKind::leading_dense, routed);
}

}  // namespace

std::int64_t layer_parameters(const ModelSpec& m, LayerKind kind) {
  return layer_parameters_with(m, kind, m.num_experts);
}

std::int64_t embedding_parameters(const ModelSpec& m) {
  return m.vocab_size * m.hidden_size + (m.position == PositionKind::learned ? m.seq_length * m.hidden_size : 0) +
         m.type_vocab_size * m.hidden_size;
}

std::int64_t lm_head_parameters(const ModelSpec& m) {
  // BERT's MLM head transforms the hidden state first (dense h x h, LayerNorm) and biases the tied decoder.
  const std::int64_t bias = m.linear_bias ? 1 : 0;
  const std::int64_t mlm = m.encoder ? m.hidden_size * m.hidden_size + norm_parameters(m) + bias * (m.hidden_size + m.vocab_size)
                                     : 0;
  return mlm + (m.tie_embeddings ? 0 : m.vocab_size * m.hidden_size);
}

std::int64_t total_parameters(const ModelSpec& m) {
  // The final norm of a (pre-LN) decoder; an encoder's post-LN layers end normed and its embedding has the norm.
  return all_layers_with(m, m.num_experts) + embedding_parameters(m) + norm_parameters(m) + lm_head_parameters(m);
}

std::int64_t active_parameters(const ModelSpec& m) {
  return all_layers_with(m, m.experts_per_token) + embedding_parameters(m) + norm_parameters(m) + lm_head_parameters(m);
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
  const std::int64_t dense = m.dense_layers();
  core::Flops forward = matmul_flops(lower_layer(m, one)) * double(m.num_layers - dense) + matmul_flops(lower_lm_head(m, one));
  if (dense > 0) forward += matmul_flops(lower_layer(m, one, LayerKind::leading_dense)) * double(dense);
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
