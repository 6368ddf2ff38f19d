#pragma once
/// A model lowered to operators: per GPU and per micro-batch, the FLOPs, memory traffic, GEMM shapes and the
/// activation bytes each part of a layer keeps for the backward pass.
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/units.hpp"
#include "models/model_spec.hpp"

namespace hpsim::models {

enum class OpKind {
  gemm,          ///< dense matmul with weights: C[m x n] = A[m x k] * W[k x n]
  batched_gemm,  ///< `batch` independent matmuls without weights (attention scores / context)
  attention,     ///< fused (flash) attention: FLOPs of both matmuls, no s*s memory traffic
  elementwise,   ///< memory-bound: norms, softmax, activation functions, dropout, residual adds, cross-entropy
};

/// One operator of the forward pass, sized for one GPU's shard of one micro-batch.
struct Operator {
  std::string_view name;  ///< static name: "qkv", "attn_scores", "softmax", "mlp_up", ...
  OpKind kind = OpKind::elementwise;
  std::int64_t m = 0, n = 0, k = 0, batch = 1;  ///< forward GEMM shape (0 for elementwise)
  core::Flops forward_flops;    ///< 2*m*n*k*batch for GEMMs; elementwise ops count 0 (memory-bound)
  core::Flops backward_flops;   ///< data + weight gradients: 2x forward for GEMMs
  core::Bytes forward_bytes;    ///< HBM bytes read + written by the forward kernel(s)
  core::Bytes backward_bytes;   ///< HBM bytes read + written by the backward kernel(s)
  core::Bytes activation_bytes; ///< bytes kept from forward to backward (no recomputation)
  bool attention_core = false;  ///< part of QK^T-softmax-dropout-AV: recomputed (and not stored) under selective recompute
};

/// How one GPU's share of a layer is cut.
struct ShardShape {
  std::int64_t tp = 1;            ///< tensor parallel: heads, MLP columns and vocabulary split tp ways
  std::int64_t cp = 1;            ///< context parallel: each rank holds seq_length / cp tokens
  std::int64_t ep = 1;            ///< expert parallel: each rank holds num_experts / ep experts
  bool sp = false;                ///< sequence parallel: norms/dropouts/residuals split tp ways along the sequence
  std::int64_t micro_batch = 1;   ///< sequences per micro-batch
  std::int64_t seq_length = 0;    ///< full sequence length (before cp)
  double bytes_per_element = 2;   ///< activation element size (2 for fp16/bf16, 4 for fp32)
  bool flash_attention = false;   ///< fused attention (no s*s scores in memory) vs Megatron's unfused core
};

/// One transformer layer (norm, attention, norm, MLP or MoE) in execution order.
/// For a GPT layer with dropout, unfused attention, tp = 1: the activation bytes add up to
/// s*b*h*(34 + 5*a*s/h) (Korthikanti'22 Eq. 1); with tp, sp and selective recompute to its variants.
std::vector<Operator> lower_layer(const ModelSpec& model, const ShardShape& shard);

/// Vocab-parallel input embedding (token + learned position lookup, dropout) on the first pipeline stage.
std::vector<Operator> lower_embedding(const ModelSpec& model, const ShardShape& shard);

/// Final norm, vocab-parallel LM head GEMM and cross-entropy on the last pipeline stage.
std::vector<Operator> lower_lm_head(const ModelSpec& model, const ShardShape& shard);

}  // namespace hpsim::models
