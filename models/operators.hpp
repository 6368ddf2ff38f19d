#pragma once
/// A model lowered to operators: per GPU and per micro-batch, the FLOPs, memory traffic, GEMM shapes and the
/// activation bytes each part of a layer keeps for the backward pass.
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/units.hpp"
#include "core/vector_kernel.hpp"
#include "models/formulas.hpp"
#include "models/model_spec.hpp"

namespace hpsim::models {

enum class OpKind {
  gemm,          ///< dense matmul with weights: C[m x n] = A[m x k] * W[k x n]
  batched_gemm,  ///< `batch` independent matmuls without weights (attention scores / context)
  attention,     ///< fused (flash) attention: FLOPs of both matmuls, no s*s memory traffic
  elementwise,   ///< norms, softmax, activation functions, dropout, residual adds, cross-entropy: a roofline of
                 ///< HBM bytes and FP32 vector (non-tensor-core) arithmetic
};

/// FP32 vector (CUDA-core / CPU SIMD, not tensor-core) operations per element of the element-wise kernels, as
/// hpsim counts them (sim's roofline divides them by the GPU's vector peak; exec's calibration divides them by the
/// measured time of the executor's kernels). One add, multiply, compare or FMA-half counts 1.
namespace vector_flops {
/// One exp or tanh: libm's expf/tanhf and CUDA's accurate expf/tanhf are a range reduction (3-4 operations) and a
/// polynomial or rational approximation of degree ~5-6 evaluated with FMAs (2 flops each): about 16 flops.
inline constexpr double kTranscendental = 16;
/// LayerNorm forward: mean (1), variance (3), normalize (2), affine (2). Backward recomputes x-hat (2), forms
/// dy*gamma (1), the two row sums (3), the gamma/beta gradients (3), then dx (7: x-hat and dy*gamma again, 3 more).
inline constexpr double kLayerNormForward = 8;
inline constexpr double kLayerNormBackward = 16;
/// RMSNorm: sum of squares (2), scale (1), weight (1); backward about 10.
inline constexpr double kRmsNormForward = 4;
inline constexpr double kRmsNormBackward = 10;
/// GELU (tanh form): 0.5 x (1 + tanh(c (x + 0.044715 x^3))): 8 + one tanh. Backward recomputes the tanh and
/// multiplies out the derivative: 18 + one tanh.
inline constexpr double kGeluForward = 8 + kTranscendental;
inline constexpr double kGeluBackward = 18 + kTranscendental;
/// SwiGLU silu(gate) * up: negate, exp, add, divide, multiply = 4 + one exp; backward recomputes the sigmoid and
/// forms both gradients: 11 + one exp.
inline constexpr double kSwigluForward = 4 + kTranscendental;
inline constexpr double kSwigluBackward = 11 + kTranscendental;
/// GeGLU gelu(gate) * up: GELU and the product (1); backward GELU's derivative plus gelu(gate) itself (3), dy*up
/// and dy*gelu(gate) (2).
inline constexpr double kGegluForward = kGeluForward + 1;
inline constexpr double kGegluBackward = kGeluBackward + 5;
/// Squared ReLU relu(x)^2: compare, multiply; backward 2*relu(x)*dy: compare and two multiplies.
inline constexpr double kSquaredReluForward = 2;
inline constexpr double kSquaredReluBackward = 3;
/// Scale-mask-softmax per score: scale, max, subtract, exp, sum, normalize = 5 + one exp. Causal kernels
/// (Megatron's upper-triangular softmax, the executor's) touch only the unmasked scores: kCausalUnmasked of them.
inline constexpr double kSoftmaxForward = 5 + kTranscendental;
inline constexpr double kCausalUnmasked = 0.5;
/// Softmax backward per score: the row dot product of y and dy (2), subtract, multiply by y, scale (3).
inline constexpr double kSoftmaxBackward = 5;
/// Dropout: compare the random draw, multiply by mask and scale (the random-number generation is integer work,
/// not counted); backward multiplies by mask and scale. Residual add: 1; its backward passes dy through.
inline constexpr double kDropoutForward = 2;
inline constexpr double kDropoutBackward = 1;
inline constexpr double kResidualAdd = 1;
/// Cross-entropy per fp32 logit: max, subtract, exp, sum = 3 + one exp; backward (kept softmax minus the one-hot,
/// times the loss gradient): 2.
inline constexpr double kCrossEntropyForward = 3 + kTranscendental;
/// Rotary embedding per rotated element (cos and sin cached per position): two multiplies and an add; backward the
/// same rotation the other way.
inline constexpr double kRope = 3;
inline constexpr double kCrossEntropyBackward = 2;
}  // namespace vector_flops

/// One operator of the forward pass, sized for one GPU's shard of one micro-batch.
struct Operator {
  std::string_view name;  ///< static name: "qkv", "attn_scores", "softmax", "mlp_up", ...
  OpKind kind = OpKind::elementwise;
  std::int64_t m = 0, n = 0, k = 0, batch = 1;  ///< forward GEMM shape (0 for elementwise)
  std::int64_t launches = 1;    ///< kernels the batch is run in (experts one by one: batch); each pays its launch
  core::Flops forward_flops;    ///< 2*m*n*k*batch for GEMMs; elementwise ops count 0 (no tensor-core work)
  core::Flops backward_flops;   ///< data + weight gradients: 2x forward for GEMMs
  core::Flops forward_vector_flops;   ///< elementwise ops: FP32 vector arithmetic (figures in vector_flops)
  core::Flops backward_vector_flops;  ///< elementwise ops: FP32 vector arithmetic of the backward kernel(s)
  core::VectorKernel vector_kernel = core::VectorKernel::generic;  ///< which kernel, for per-kernel measured rates
  core::Bytes forward_bytes;    ///< HBM bytes read + written by the forward kernel(s)
  core::Bytes backward_bytes;   ///< HBM bytes read + written by the backward kernel(s)
  core::Bytes activation_bytes; ///< bytes kept from forward to backward (no recomputation)
  bool attention_core = false;  ///< part of QK^T-softmax-dropout-AV: recomputed (and not stored) under selective recompute
  bool quantizable = false;     ///< a linear layer's GEMM: runs in FP8 when the plan trains in FP8
  bool causal = false;          ///< fused attention under a causal mask: the kernel skips the masked half
  bool row_parallel = false;    ///< its output is reduced over the TP group (attention projection, MLP down)
  /// An element-wise operator run op by op in eager PyTorch (no fused kernel, no compiler) moves this many times
  /// the bytes of its fused kernel (see `eager_traffic`).
  double eager_traffic = 1;
};

/// HBM traffic of element-wise operators written as chains of PyTorch ops (torchtitan's modules) run eagerly,
/// each op reading and writing whole tensors, against one fused kernel (bytes per element read + written).
namespace eager_traffic {
/// RMSNorm in fp32: x.float() (2 + 4), pow (4 + 4), mean (4), x * rsqrt (4 + 4), type_as (4 + 2), * weight (2 + 2):
/// 36 B per element against 4 fused.
inline constexpr double kRmsNorm = 36.0 / 4.0;
/// Rotary embedding as a complex product: float() (2 + 4), complex multiply (4 + 4), type_as (4 + 2): 20 against 4.
inline constexpr double kRope = 20.0 / 4.0;
/// silu(gate) * up: silu (2 + 2), multiply (2 + 2 + 2): 10 per output element against 6 fused (GeGLU's
/// gelu(gate) * up the same).
inline constexpr double kSwiglu = 10.0 / 6.0;
/// torch.pow(F.relu(x), 2) (Megatron-LM's squared_relu): relu (2 + 2), pow (2 + 2): 8 against 4 fused.
inline constexpr double kSquaredRelu = 8.0 / 4.0;
}  // namespace eager_traffic

/// How one GPU's share of a layer is cut.
struct ShardShape {
  std::int64_t tp = 1;            ///< tensor parallel: heads, MLP columns and vocabulary split tp ways
  std::int64_t cp = 1;            ///< context parallel: each rank holds seq_length / cp tokens
  std::int64_t ep = 1;            ///< expert parallel: each rank holds num_experts / ep experts
  std::int64_t etp = 0;           ///< the experts' tensor parallel size (0: tp): each expert's columns split etp ways
  double moe_load = 1;            ///< the most loaded rank's expert tokens over the balanced share
  bool grouped_gemm = true;       ///< a rank's experts in one grouped GEMM; false: one GEMM per expert
  bool sp = false;                ///< sequence parallel: norms/dropouts/residuals split tp ways along the sequence
  std::int64_t micro_batch = 1;   ///< sequences per micro-batch
  std::int64_t seq_length = 0;    ///< full sequence length (before cp)
  double bytes_per_element = 2;   ///< activation element size (2 for fp16/bf16, 4 for fp32)
  bool flash_attention = false;   ///< fused attention (no s*s scores in memory) vs Megatron's unfused core
  bool causal = true;             ///< decoder attention (each token sees the ones before it); encoders never are
  /// FP8 training: a linear layer keeps the FP8 copy of its input for the weight gradient (1 byte per element;
  /// Transformer Engine's Linear and torchao's Float8Linear both save the cast input), not the 16-bit one.
  bool fp8_saved_inputs = false;
};

/// One transformer layer of `kind` (norm, attention or MLA, norm, MLP or MoE) in execution order.
/// For a GPT layer with dropout, unfused attention, tp = 1: the activation bytes add up to
/// s*b*h*(34 + 5*a*s/h) (Korthikanti'22 Eq. 1); with tp, sp and selective recompute to its variants.
std::vector<Operator> lower_layer(const ModelSpec& model, const ShardShape& shard, LayerKind kind = LayerKind::usual);

/// The share of an operator's forward that `recompute` runs again in the backward pass (0 to 1).
double recomputed_share(const Operator& op, Recompute recompute);

/// Activation bytes one layer keeps under per-operator selective checkpointing (Recompute::op_selective):
/// torchtitan's policy saves the layer input, the attention output (and its logsumexp) and the outputs of every
/// second matmul in forward order (wq, wv, w1, w2 of wq, wk, wv, wo, w1, w3, w2).
core::Bytes op_selective_saved_bytes(const ModelSpec& model, const ShardShape& shard,
                                     LayerKind kind = LayerKind::usual);

/// Vocab-parallel input embedding (token + learned position + token-type lookup, an encoder's LayerNorm, dropout) on
/// the first pipeline stage.
std::vector<Operator> lower_embedding(const ModelSpec& model, const ShardShape& shard);

/// Final norm (an encoder: the MLM transform, dense + GELU + LayerNorm), vocab-parallel LM head GEMM and
/// cross-entropy on the last pipeline stage.
std::vector<Operator> lower_lm_head(const ModelSpec& model, const ShardShape& shard);

}  // namespace hpsim::models
