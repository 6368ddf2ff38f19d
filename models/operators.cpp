#include "models/operators.hpp"

#include <algorithm>
#include <cmath>

namespace hpsim::models {
namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

/// Sizes shared by the operators of one GPU's shard of one micro-batch.
struct Dims {
  double e = 2;                  // bytes per activation element
  std::int64_t tokens = 0;       // b * s_local: tokens of the GEMMs (sequence-parallel inputs all-gathered)
  std::int64_t sp_tokens = 0;    // tokens of norms/dropouts/residuals: tokens / t with SP
  std::int64_t b = 0, s_local = 0, s = 0, t = 1;
  std::int64_t h = 0;
  std::int64_t heads = 0;        // attention heads on this GPU
  std::int64_t kv_heads = 0;     // kv heads on this GPU (replicated when t > kv heads, as in Megatron)
  std::int64_t head_dim = 0;
  std::int64_t qk_dim = 0, v_dim = 0;  // per-head widths of queries/keys and of values (head_dim but for MLA)
  bool causal = true;            // decoder attention under a causal mask (never an encoder's)
  double saved_input = 1;        // share of a 16-bit element a linear layer keeps of its input (0.5: an FP8 copy)
};

Dims dims_of(const ModelSpec& m, const ShardShape& sh) {
  Dims d;
  d.e = sh.bytes_per_element;
  d.t = std::max<std::int64_t>(1, sh.tp);
  d.b = sh.micro_batch;
  d.s = sh.seq_length > 0 ? sh.seq_length : m.seq_length;
  d.s_local = ceil_div(d.s, std::max<std::int64_t>(1, sh.cp));
  d.tokens = d.b * d.s_local;
  d.sp_tokens = sh.sp ? ceil_div(d.tokens, d.t) : d.tokens;
  d.h = m.hidden_size;
  d.heads = ceil_div(m.num_heads, d.t);
  // MLA expands its latent into K and V for every head.
  d.kv_heads = ceil_div(m.is_mla() ? m.num_heads : m.num_kv_heads, d.t);
  d.head_dim = m.head_dim();
  d.qk_dim = m.qk_head_dim();
  d.v_dim = m.value_head_dim();
  d.causal = sh.causal && !m.encoder;
  d.saved_input = sh.fp8_saved_inputs ? 0.5 : 1.0;
  return d;
}

/// C[m x n] = A[m x k] * W[k x n] (times `batch`). Forward moves A, B and C once; backward runs the data-gradient
/// GEMM (reads dC, B, writes dA) and the weight-gradient GEMM (reads A, dC, writes dB): twice the traffic.
Operator gemm(std::string_view name, OpKind kind, std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t batch,
              double e) {
  Operator op;
  op.name = name;
  op.kind = kind;
  op.m = m;
  op.n = n;
  op.k = k;
  op.batch = batch;
  const double flops = 2.0 * double(m) * double(n) * double(k) * double(batch);
  op.forward_flops = core::Flops(flops);
  op.backward_flops = core::Flops(2.0 * flops);
  const double traffic = e * double(batch) * (double(m) * double(k) + double(k) * double(n) + double(m) * double(n));
  op.forward_bytes = core::Bytes(traffic);
  op.backward_bytes = core::Bytes(2.0 * traffic);
  return op;
}

namespace vf = vector_flops;

Operator elementwise(std::string_view name, double forward_bytes, double backward_bytes, double activation_bytes,
                     double forward_vector_flops, double backward_vector_flops,
                     core::VectorKernel kernel = core::VectorKernel::generic) {
  Operator op;
  op.name = name;
  op.kind = OpKind::elementwise;
  op.forward_bytes = core::Bytes(forward_bytes);
  op.backward_bytes = core::Bytes(backward_bytes);
  op.activation_bytes = core::Bytes(activation_bytes);
  op.forward_vector_flops = core::Flops(forward_vector_flops);
  op.backward_vector_flops = core::Flops(backward_vector_flops);
  op.vector_kernel = kernel;
  return op;
}

/// LayerNorm/RMSNorm on `tokens` rows of `width` (the hidden size unless given): forward reads x and the weights,
/// writes y; backward reads dy, x and the weights, writes dx and the weight gradients. Keeps its input x.
Operator norm(std::string_view name, const ModelSpec& m, const Dims& d, std::int64_t tokens, std::int64_t width = 0) {
  const std::int64_t w = width > 0 ? width : d.h;
  const double x = d.e * double(tokens) * double(w);
  const bool ln = m.norm == NormKind::layernorm;
  const double params = d.e * double(w) * (ln ? 2.0 : 1.0);
  const double n = double(tokens) * double(w);
  Operator op = elementwise(name, 2.0 * x + params, 3.0 * x + 2.0 * params, x,
                            n * (ln ? vf::kLayerNormForward : vf::kRmsNormForward),
                            n * (ln ? vf::kLayerNormBackward : vf::kRmsNormBackward),
                            ln ? core::VectorKernel::layernorm : core::VectorKernel::rmsnorm);
  op.eager_traffic = ln ? 1.0 : eager_traffic::kRmsNorm;  // PyTorch's layer_norm is one kernel even in eager
  return op;
}

/// Dropout + residual add on the sequence-parallel shard: forward reads the branch output and the residual,
/// writes the sum (and the 1-byte dropout mask); backward reads dy (and the mask), writes the branch gradient.
/// Keeps the mask only.
Operator residual(std::string_view name, const ModelSpec& m, const Dims& d) {
  const double n = double(d.sp_tokens) * double(d.h);
  const double mask = m.dropout ? n : 0.0;
  return elementwise(name, 3.0 * d.e * n + mask, 2.0 * d.e * n + mask, mask,
                     n * (vf::kResidualAdd + (m.dropout ? vf::kDropoutForward : 0.0)),
                     n * (m.dropout ? vf::kDropoutBackward : 0.0));
}

/// Attention of one layer: Megatron's unfused core (QK^T, scale-mask-softmax, dropout, AV) or one fused
/// flash-attention kernel. Q, K, V are kept by the qkv op.
void append_attention(std::vector<Operator>& ops, const ModelSpec& m, const ShardShape& sh, const Dims& d) {
  const std::int64_t batch = d.b * d.heads;
  // Each rank's queries attend to all s keys (with CP the keys arrive over the ring); scores over the query/key
  // width, context over the value width (they differ under MLA).
  Operator scores = gemm("attn_scores", OpKind::batched_gemm, d.s_local, d.s, d.qk_dim, batch, d.e);
  Operator context = gemm("attn_context", OpKind::batched_gemm, d.s_local, d.v_dim, d.s, batch, d.e);
  if (sh.flash_attention) {
    Operator fa;
    fa.name = "attention";
    fa.kind = OpKind::attention;
    fa.m = d.s_local;
    fa.n = d.s;
    fa.k = d.qk_dim;
    fa.batch = batch;
    // A causal kernel skips the blocks above the diagonal: half the work (with context parallelism the
    // load-balanced chunks keep each rank's share at half as well). An encoder attends both ways: all of it.
    fa.causal = d.causal;
    fa.forward_flops = (scores.forward_flops + context.forward_flops) * (d.causal ? 0.5 : 1.0);
    // The backward kernel recomputes QK^T: 5 matmuls of the forward's 2.
    fa.backward_flops = fa.forward_flops * 2.5;
    const double q = d.e * double(d.tokens) * double(d.heads * d.qk_dim);    // each of Q, dQ
    const double o = d.e * double(d.tokens) * double(d.heads * d.v_dim);     // each of O, dO
    const double k = d.e * double(d.b * d.s) * double(d.kv_heads * d.qk_dim);  // each of K, dK
    const double v = d.e * double(d.b * d.s) * double(d.kv_heads * d.v_dim);   // each of V, dV
    const double lse = 4.0 * double(batch) * double(d.s_local);                // fp32 logsumexp per row
    // Forward reads Q, K, V and writes O (+ lse); backward reads Q, K, V, O, dO, lse and writes dQ, dK, dV.
    fa.forward_bytes = core::Bytes((q + o) + (k + v) + lse);
    fa.backward_bytes = core::Bytes(2.0 * (q + o) + 2.0 * (k + v) + lse);
    // Keeps the logsumexp; O is the same tensor attn_proj keeps as its input (unless attn_proj keeps an FP8 copy:
    // then O itself is kept here), and Q, K, V are the qkv op's.
    fa.activation_bytes = core::Bytes(lse + (sh.fp8_saved_inputs ? o : 0.0));
    fa.attention_core = true;
    ops.push_back(fa);
    return;
  }
  scores.attention_core = true;  // its inputs Q, K are kept by the qkv op
  ops.push_back(scores);

  // Fused scale-mask-softmax reads and writes the scores once; dropout reads the probabilities, writes its output
  // and a 1-byte mask. Backward: dropout (read dy and mask, write dx), softmax (read dy and y, write dx).
  const double scores_elems = double(batch) * double(d.s_local) * double(d.s);
  const double dropout_fwd = m.dropout ? (2.0 * d.e + 1.0) * scores_elems : 0.0;
  const double dropout_bwd = m.dropout ? (2.0 * d.e + 1.0) * scores_elems : 0.0;
  // Keeps its output (for its backward) and the dropout mask.
  Operator softmax = elementwise("softmax", 2.0 * d.e * scores_elems + dropout_fwd,
                                 3.0 * d.e * scores_elems + dropout_bwd,
                                 d.e * scores_elems + (m.dropout ? scores_elems : 0.0),
                                 scores_elems * ((d.causal ? vf::kCausalUnmasked : 1.0) * vf::kSoftmaxForward +
                                                 (m.dropout ? vf::kDropoutForward : 0.0)),
                                 scores_elems * (vf::kSoftmaxBackward + (m.dropout ? vf::kDropoutBackward : 0.0)),
                                 core::VectorKernel::softmax);
  softmax.attention_core = true;
  ops.push_back(softmax);

  // Keeps the dropout output (the AV input); without dropout that is the softmax output, already kept.
  context.activation_bytes = core::Bytes(m.dropout ? d.e * scores_elems : 0.0);
  context.attention_core = true;
  ops.push_back(context);
}

/// The MLP's activation on `tokens` x `f`: GELU or squared ReLU read x, write y, backward reads dy, x and writes dx,
/// keeping its input; SwiGLU silu(gate)*up and GeGLU gelu(gate)*up read 2, write 1, backward reads dy, gate, up and
/// writes both gradients, keeping both inputs.
Operator mlp_activation(std::string_view name, const ModelSpec& m, const Dims& d, std::int64_t tokens, std::int64_t f) {
  const double y = d.e * double(tokens) * double(f);
  const double ny = double(tokens) * double(f);
  Operator op;
  switch (m.mlp) {
    case MlpKind::swiglu:
      op = elementwise(name, 3.0 * y, 5.0 * y, 2.0 * y, ny * vf::kSwigluForward, ny * vf::kSwigluBackward,
                       core::VectorKernel::swiglu);
      op.eager_traffic = eager_traffic::kSwiglu;
      break;
    case MlpKind::geglu:  // GELU's tanh sets its arithmetic rate
      op = elementwise(name, 3.0 * y, 5.0 * y, 2.0 * y, ny * vf::kGegluForward, ny * vf::kGegluBackward,
                       core::VectorKernel::gelu);
      op.eager_traffic = eager_traffic::kSwiglu;
      break;
    case MlpKind::relu2:
      op = elementwise(name, 2.0 * y, 3.0 * y, y, ny * vf::kSquaredReluForward, ny * vf::kSquaredReluBackward);
      op.eager_traffic = eager_traffic::kSquaredRelu;
      break;
    case MlpKind::gelu:
      op = elementwise(name, 2.0 * y, 3.0 * y, y, ny * vf::kGeluForward, ny * vf::kGeluBackward, core::VectorKernel::gelu);
      break;
  }
  return op;
}

/// Names of one MLP's three operators.
struct MlpNames {
  std::string_view up, act, down;
};
constexpr MlpNames kMlp{"mlp_up", "mlp_act", "mlp_down"};
constexpr MlpNames kSharedExperts{"shared_up", "shared_act", "shared_down"};

/// MLP (dense, the shared experts, or this GPU's routed experts): up (2-matrix: n = f; gated: gate and up fused,
/// n = 2f), activation, down, each a GEMM of `rows` rows per expert over `experts` experts (a grouped GEMM: one
/// kernel, every expert's weights read; `launches` = experts when they run one by one). `f` is this rank's share of
/// the MLP columns and `input_bytes` what the up GEMM keeps of its input.
void append_mlp(std::vector<Operator>& ops, const ModelSpec& m, const Dims& d, std::int64_t rows,
                std::int64_t experts, std::int64_t f, double input_bytes, std::int64_t launches,
                const MlpNames& names = kMlp) {
  Operator up = gemm(names.up, OpKind::gemm, rows, m.gated_mlp() ? 2 * f : f, d.h, experts, d.e);
  up.quantizable = true;
  up.launches = launches;
  up.activation_bytes = core::Bytes(input_bytes * d.saved_input);
  ops.push_back(up);

  ops.push_back(mlp_activation(names.act, m, d, rows * experts, f));

  const double y = d.e * double(rows) * double(experts) * double(f);
  Operator down = gemm(names.down, OpKind::gemm, rows, d.h, f, experts, d.e);
  down.quantizable = true;
  down.row_parallel = true;
  down.launches = launches;
  down.activation_bytes = core::Bytes(y * d.saved_input);  // its input
  ops.push_back(down);
}

/// DeepSeek's shared experts: one MLP of n_shared_experts * moe_intermediate_size on every token, split tp ways like a
/// dense MLP (Megatron-LM's SharedExpertMLP), keeping its input (the post-attention norm's output) as a dense one does.
void append_shared_experts(std::vector<Operator>& ops, const ModelSpec& m, const Dims& d) {
  if (m.shared_experts == 0) return;
  append_mlp(ops, m, d, d.tokens, 1, ceil_div(m.shared_ffn_hidden_size(), d.t), d.e * double(d.sp_tokens) * double(d.h),
             1, kSharedExperts);
}

/// The routed experts of an MoE layer, as Megatron-Core runs them (megatron/core/transformer/moe: router, token
/// dispatcher, grouped MLP). Each rank routes its 1/tp of the tokens (the sequence-parallel shard: Megatron-Core
/// requires SP when tp and ep are both > 1), top_k copies of each; the copies cross to their experts (all-to-all,
/// then an all-gather over the experts' TP group; step_costs.cpp costs that traffic) and come back.
void append_moe(std::vector<Operator>& ops, const ModelSpec& m, const ShardShape& sh, const Dims& d) {
  // The router scores the sequence-parallel shard; keeps its routing probabilities.
  Operator router = gemm("router", OpKind::gemm, d.sp_tokens, m.num_experts, d.h, 1, d.e);
  router.activation_bytes = core::Bytes(d.e * double(router.m) * double(router.n));
  ops.push_back(router);

  const std::int64_t etp = sh.etp > 0 ? sh.etp : d.t;
  const std::int64_t local_experts = ceil_div(m.num_experts, std::max<std::int64_t>(1, sh.ep));
  const std::int64_t source = ceil_div(d.tokens, d.t);                 // tokens this rank routes
  const double sent = double(source) * double(m.experts_per_token);   // routed copies it permutes and sends
  // Balanced routing: the tokens of the tp*cp*dp ranks of a stage, top_k copies each, over num_experts experts held
  // by expert-dp replicas of etp ranks: per rank tokens*top_k*etp/tp rows, split over its local experts. The most
  // loaded rank (capacity-bounded, or padded to capacity) decides.
  const double balanced = double(d.tokens) * double(m.experts_per_token) * double(etp) /
                          (double(d.t) * double(local_experts));
  const auto rows = static_cast<std::int64_t>(std::ceil(balanced * sh.moe_load - 1e-9));
  const double received = double(rows) * double(local_experts);
  const double h = double(d.h);
  // Permutation gathers the routed copies (read the tokens, write the copies) with their probabilities and row
  // indices (fp32 and int32 per copy); unpermutation scatters the expert outputs back, weighted by the
  // probabilities. Backward: the same traffic the other way, plus the kept expert outputs for the probabilities'
  // gradient, which unpermutation keeps (Megatron's unpermute multiplies by probs; autograd saves its input).
  const double index = 8.0 * sent;
  ops.push_back(elementwise("moe_permute", d.e * h * (double(source) + sent) + index,
                            d.e * h * (double(source) + sent) + index, 4.0 * sent, 0.0, 0.0));
  ops.push_back(elementwise("moe_unpermute", d.e * h * (double(source) + sent) + index,
                            d.e * h * (double(source) + 2.0 * sent) + index, d.e * h * sent,
                            2.0 * h * sent, 3.0 * h * sent));
  if (local_experts > 1) {
    // Received copies sorted by local expert before the experts and back after them (sort_chunks_by_idxs).
    const double moved = 4.0 * d.e * h * received;
    ops.push_back(elementwise("moe_sort", moved, moved, 0.0, 0.0, 0.0));
  }
  // Each expert's columns split etp ways; the expert input (received copies) is kept whole.
  append_mlp(ops, m, d, rows, local_experts, ceil_div(m.expert_ffn_hidden_size(), etp), d.e * received * h,
             sh.grouped_gemm ? 1 : local_experts);
}

/// Q, K, V projections of standard attention (rotary positions applied to Q and K).
void append_qkv(std::vector<Operator>& ops, const ModelSpec& m, const Dims& d, double sp_input) {
  // Q for this GPU's heads, K and V for its kv heads. Keeps its input and its outputs Q, K, V.
  Operator qkv = gemm("qkv", OpKind::gemm, d.tokens, (d.heads + 2 * d.kv_heads) * d.head_dim, d.h, 1, d.e);
  qkv.activation_bytes = core::Bytes(sp_input * d.saved_input + d.e * double(qkv.m) * double(qkv.n));
  qkv.quantizable = true;
  ops.push_back(qkv);
  if (m.position == PositionKind::rope) {
    // Rotary positions turn Q and K in place: read and write them; backward the same on their gradients.
    const double n = double(d.tokens) * double((d.heads + d.kv_heads) * d.head_dim);
    ops.push_back(elementwise("rope", 2.0 * d.e * n, 2.0 * d.e * n, 0.0, n * vf::kRope, n * vf::kRope));
    ops.back().eager_traffic = eager_traffic::kRope;
  }
}

/// Multi-head latent attention's projections (DeepSeek-V2 Sec. 2.1; Megatron-LM's MLASelfAttention): queries
/// down to q_lora_rank, normed, up to heads*(qk_nope+qk_rope) (or straight from h without q_lora_rank); keys and
/// values down to kv_lora_rank plus one shared rotary key of qk_rope_head_dim, the latent normed and expanded to
/// heads*(qk_nope+v_head_dim). The down-projections are replicated over TP, the up-projections split by heads.
/// Keeps the layer input, the normed latents and Q, K, V.
void append_mla(std::vector<Operator>& ops, const ModelSpec& m, const Dims& d, double sp_input) {
  const std::int64_t q_width = d.heads * d.qk_dim;
  double input_kept = sp_input * d.saved_input;  // the layer input, kept once by the first GEMM that reads it
  if (m.q_lora_rank > 0) {
    Operator down = gemm("q_down", OpKind::gemm, d.tokens, m.q_lora_rank, d.h, 1, d.e);
    down.quantizable = true;
    down.activation_bytes = core::Bytes(input_kept);
    input_kept = 0;
    ops.push_back(down);
    ops.push_back(norm("q_norm", m, d, d.tokens, m.q_lora_rank));
    Operator up = gemm("q_up", OpKind::gemm, d.tokens, q_width, m.q_lora_rank, 1, d.e);
    up.quantizable = true;
    up.activation_bytes = core::Bytes(d.e * double(d.tokens) * (double(m.q_lora_rank) * d.saved_input + double(q_width)));
    ops.push_back(up);
  } else {
    Operator q = gemm("q_proj", OpKind::gemm, d.tokens, q_width, d.h, 1, d.e);
    q.quantizable = true;
    q.activation_bytes = core::Bytes(input_kept + d.e * double(d.tokens) * double(q_width));
    input_kept = 0;
    ops.push_back(q);
  }
  Operator kv_down = gemm("kv_down", OpKind::gemm, d.tokens, m.kv_lora_rank + m.qk_rope_head_dim, d.h, 1, d.e);
  kv_down.quantizable = true;
  kv_down.activation_bytes = core::Bytes(input_kept);
  ops.push_back(kv_down);
  ops.push_back(norm("kv_norm", m, d, d.tokens, m.kv_lora_rank));
  // K (the unrotated part per head, the shared rotary key broadcast to every head) and V.
  const std::int64_t kv_width = d.heads * (m.qk_nope_head_dim + m.v_head_dim);
  Operator kv_up = gemm("kv_up", OpKind::gemm, d.tokens, kv_width, m.kv_lora_rank, 1, d.e);
  kv_up.quantizable = true;
  kv_up.activation_bytes = core::Bytes(
      d.e * double(d.tokens) * (double(m.kv_lora_rank) * d.saved_input + double(d.heads * (d.qk_dim + d.v_dim))));
  ops.push_back(kv_up);
  // Rotary positions on the queries' rotary part and the one shared rotary key.
  const double n = double(d.tokens) * double((d.heads + 1) * m.qk_rope_head_dim);
  ops.push_back(elementwise("rope", 2.0 * d.e * n, 2.0 * d.e * n, 0.0, n * vf::kRope, n * vf::kRope));
  ops.back().eager_traffic = eager_traffic::kRope;
}

}  // namespace

std::vector<Operator> lower_layer(const ModelSpec& m, const ShardShape& sh, LayerKind kind) {
  const Dims d = dims_of(m, sh);
  const double sp_input = d.e * double(d.sp_tokens) * double(d.h);  // a replicated (÷t with SP) layer input
  std::vector<Operator> ops;

  ops.push_back(norm("input_norm", m, d, d.sp_tokens));

  if (m.is_mla()) append_mla(ops, m, d, sp_input);
  else append_qkv(ops, m, d, sp_input);

  append_attention(ops, m, sh, d);

  Operator proj = gemm("attn_proj", OpKind::gemm, d.tokens, d.h, d.heads * d.v_dim, 1, d.e);
  proj.activation_bytes = core::Bytes(d.e * double(proj.m) * double(proj.k) * d.saved_input);  // its input
  proj.quantizable = true;
  proj.row_parallel = true;
  ops.push_back(proj);
  ops.push_back(residual("attn_residual", m, d));

  ops.push_back(norm("post_attn_norm", m, d, d.sp_tokens));

  if (m.is_moe() && kind == LayerKind::usual) {
    append_moe(ops, m, sh, d);
    append_shared_experts(ops, m, d);
  } else {
    append_mlp(ops, m, d, d.tokens, 1, ceil_div(m.ffn_hidden_size, d.t), sp_input, 1);
  }
  ops.push_back(residual("mlp_residual", m, d));
  return ops;
}

double recomputed_share(const Operator& op, Recompute recompute) {
  switch (recompute) {
    case Recompute::none: return 0;
    case Recompute::full: return 1;
    case Recompute::selective: return op.attention_core ? 1 : 0;
    case Recompute::op_selective:
      // Element-wise kernels are redone; the attention output is saved; every second matmul is redone.
      if (op.kind == OpKind::elementwise) return 1;
      if (op.kind == OpKind::gemm && op.quantizable) return 0.5;
      return 0;
  }
  return 0;
}

core::Bytes op_selective_saved_bytes(const ModelSpec& m, const ShardShape& sh, LayerKind kind) {
  const Dims d = dims_of(m, sh);
  const double t = double(d.t);
  const double tokens = double(d.tokens);
  const double input = double(d.sp_tokens) * double(d.h);                 // the checkpointed layer input
  const double q = tokens * double(d.heads * d.qk_dim);                    // wq output (this rank's heads)
  const double v = tokens * double(d.kv_heads * d.v_dim);                  // wv output
  const double attention = tokens * double(d.heads * d.v_dim);             // attention output
  const double lse = 2.0 * double(d.b * d.heads) * double(d.s_local);      // fp32 logsumexp, in 2-byte units
  const double w2 = tokens * double(d.h) / (sh.sp ? t : 1.0);              // MLP output (reduce-scattered with SP)
  const bool moe = m.is_moe() && kind == LayerKind::usual;
  const double w1 = tokens * double(ceil_div(moe ? m.expert_ffn_hidden_size() : m.ffn_hidden_size, d.t));  // gate out
  const double routed = moe ? double(m.experts_per_token) : 1.0;           // MoE: every routed copy of a token
  // Shared experts: their gate projection's and their output (w1, w2 of one more MLP).
  const double shared = moe && m.shared_experts > 0 ? tokens * double(ceil_div(m.shared_ffn_hidden_size(), d.t)) + w2 : 0.0;
  return core::Bytes(d.e * (input + q + v + attention + lse + routed * (w1 + w2) + shared));
}

std::vector<Operator> lower_embedding(const ModelSpec& m, const ShardShape& sh) {
  const Dims d = dims_of(m, sh);
  // Vocab-parallel lookup: read this rank's rows for all tokens (plus the position rows), write the partial sums;
  // then dropout on the sequence-parallel shard (read, write, 1-byte mask). Backward scatters dy into the rows.
  const double rows = d.e * double(d.tokens) * double(d.h);
  // Learned positions and token types (BERT) are rows read and added like the tokens'.
  const double positions = (m.position == PositionKind::learned ? rows : 0.0) + (m.type_vocab_size > 0 ? rows : 0.0);
  const double shard = double(d.sp_tokens) * double(d.h);
  const double dropout_fwd = m.dropout ? (2.0 * d.e + 1.0) * shard : 0.0;
  const double dropout_bwd = m.dropout ? (2.0 * d.e + 1.0) * shard : 0.0;
  // Arithmetic: the position add (forward), the scatter-add of dy (and of the position gradient), the dropout.
  const double elems = double(d.tokens) * double(d.h);
  const double learned = (m.position == PositionKind::learned ? 1.0 : 0.0) + (m.type_vocab_size > 0 ? 1.0 : 0.0);
  Operator op = elementwise("embedding", 2.0 * rows + positions + dropout_fwd, 2.0 * rows + positions + dropout_bwd,
                            m.dropout ? shard : 0.0,  // keeps the dropout mask
                            elems * learned * vf::kResidualAdd + (m.dropout ? shard * vf::kDropoutForward : 0.0),
                            elems * (1.0 + learned) * vf::kResidualAdd +
                                (m.dropout ? shard * vf::kDropoutBackward : 0.0));
  // A post-LN encoder normalizes the summed embeddings (BERT's embeddings.LayerNorm).
  if (m.encoder) return {op, norm("embedding_norm", m, d, d.sp_tokens)};
  return {op};
}

std::vector<Operator> lower_lm_head(const ModelSpec& m, const ShardShape& sh) {
  const Dims d = dims_of(m, sh);
  std::vector<Operator> ops;
  double head_input = d.e * double(d.sp_tokens) * double(d.h);
  if (m.encoder) {
    // BERT's MLM transform (BertPredictionHeadTransform): dense h x h (replicated over TP, on every token, as
    // Megatron-LM's BertLMHead), GELU, LayerNorm; the layers' post-LN output needs no final norm.
    Operator dense = gemm("mlm_dense", OpKind::gemm, d.tokens, d.h, d.h, 1, d.e);
    dense.quantizable = true;
    dense.activation_bytes = core::Bytes(head_input * d.saved_input);
    ops.push_back(dense);
    ops.push_back(mlp_activation("mlm_act", m, d, d.tokens, d.h));
    ops.push_back(norm("mlm_norm", m, d, d.tokens));
    head_input = d.e * double(d.tokens) * double(d.h);
  } else {
    ops.push_back(norm("final_norm", m, d, d.sp_tokens));
  }

  Operator head = gemm("lm_head", OpKind::gemm, d.tokens, ceil_div(m.vocab_size, d.t), d.h, 1, d.e);
  head.activation_bytes = core::Bytes(head_input);  // its input
  ops.push_back(head);

  // Megatron's vocab-parallel cross-entropy works on fp32 logits: forward reads and writes them once (max,
  // exp, sum fused), backward reads the kept softmax and writes the gradient. Keeps the fp32 softmax.
  const double logits = 4.0 * double(head.m) * double(head.n);
  const double n_logits = double(head.m) * double(head.n);
  ops.push_back(elementwise("cross_entropy", 2.0 * logits, 2.0 * logits, logits, n_logits * vf::kCrossEntropyForward,
                            n_logits * vf::kCrossEntropyBackward));
  return ops;
}

}  // namespace hpsim::models
