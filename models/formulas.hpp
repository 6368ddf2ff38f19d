#pragma once
/// Parameter counts and the closed forms of the literature (Narayanan'21, Korthikanti'22), tested by hand.
#include <cstdint>

#include "core/units.hpp"
#include "models/model_spec.hpp"

namespace hpsim::models {

/// Activation recomputation: Megatron's granularities (selective: the attention core; full: whole layers) and
/// PyTorch's per-operator selective checkpointing as torchtitan applies it (op_selective: keeps the outputs of
/// attention and of every second matmul, recomputes the rest).
enum class Recompute { none, selective, full, op_selective };

/// Parameters of one transformer layer of `kind` (all experts of an MoE layer, router and shared experts included).
std::int64_t layer_parameters(const ModelSpec& model, LayerKind kind = LayerKind::usual);
/// Token embedding plus learned position and token-type embeddings (if any).
std::int64_t embedding_parameters(const ModelSpec& model);
/// LM head weights (0 when tied to the embedding), plus an encoder's MLM transform (dense, LayerNorm, decoder bias).
std::int64_t lm_head_parameters(const ModelSpec& model);
/// Everything: layers, embeddings, final norm, LM head.
std::int64_t total_parameters(const ModelSpec& model);
/// Parameters a token passes through (MoE: only experts_per_token experts). Equals total for dense models.
std::int64_t active_parameters(const ModelSpec& model);

/// Narayanan'21 Eq. 3: matmul FLOPs of one step, 72*B*s*l*h^2*(1 + s/(6h) + V/(12*l*h)), or with full
/// recomputation 96*B*s*l*h^2*(1 + s/(6h) + V/(16*l*h)). Defined for GPT-style dense models.
core::Flops megatron_step_flops(const ModelSpec& model, std::int64_t global_batch, std::int64_t seq_length,
                                bool full_recompute);

/// Model FLOPs of one step for any model (dense or MoE, GQA, MLA, SwiGLU): 3x forward matmul FLOPs (incl. attention
/// and LM head), no recomputation. Equals megatron_step_flops(..., false) for GPT models.
core::Flops model_step_flops(const ModelSpec& model, std::int64_t global_batch, std::int64_t seq_length);

/// Korthikanti'22 activation memory of one layer in bytes (16-bit): s*b*h*(34 + 5as/h) without parallelism;
/// s*b*h*(10 + 24/t + 5as/(ht)) with TP t; s*b*h/t*(34 + 5as/h) with TP + SP; the 5as/h term dropped under
/// selective recompute; 2sbh (/t with SP) under full recompute.
core::Bytes korthikanti_activation_bytes(const ModelSpec& model, std::int64_t seq_length, std::int64_t micro_batch,
                                         std::int64_t tp, bool sp, Recompute recompute);

}  // namespace hpsim::models
