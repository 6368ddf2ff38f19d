#pragma once
/// The shape of a transformer (decoder, or BERT-style encoder), and how to load one (preset, model file, Hugging Face
/// config.json).
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/embedded_file.hpp"
#include "core/fields.hpp"

namespace hpsim::models {

/// 2-matrix GELU MLP, 3-matrix SwiGLU (silu(gate) * up), 3-matrix GeGLU (gelu(gate) * up: Grok-1, Gemma) or
/// 2-matrix squared-ReLU MLP (relu(x)^2: Nemotron-4).
enum class MlpKind { gelu, swiglu, geglu, relu2 };
enum class NormKind { layernorm, rmsnorm };    ///< LayerNorm has a bias, RMSNorm does not
enum class PositionKind { learned, rope };     ///< learned position embeddings add seq_length*hidden parameters

/// A transformer. Integer sizes as in Hugging Face configs; MoE when num_experts > 0; multi-head latent attention
/// (DeepSeek-V2/V3) when kv_lora_rank > 0; a BERT-style encoder when `encoder`.
struct ModelSpec {
  std::string name;    ///< preset name or file name
  std::string source;  ///< where the figures come from (paper, model card)
  std::int64_t num_layers = 0;
  std::int64_t hidden_size = 0;
  std::int64_t num_heads = 0;
  std::int64_t num_kv_heads = 0;       ///< = num_heads without GQA
  std::int64_t attention_head_dim = 0; ///< explicit head_dim (Qwen3, GPT-OSS, Gemma); 0: hidden_size / num_heads
  std::int64_t q_lora_rank = 0;        ///< MLA: query down-projection rank (0: queries projected from h directly)
  std::int64_t kv_lora_rank = 0;       ///< MLA: key/value latent rank (0: not MLA)
  std::int64_t qk_nope_head_dim = 0;   ///< MLA: per-head query/key width without rotary positions
  std::int64_t qk_rope_head_dim = 0;   ///< MLA: per-head query/key width with rotary positions (the key's is shared)
  std::int64_t v_head_dim = 0;         ///< MLA: per-head value width
  std::int64_t ffn_hidden_size = 0;    ///< MLP inner size (dense layers; per expert for MoE unless moe_ffn_hidden_size)
  std::int64_t moe_ffn_hidden_size = 0;  ///< per routed expert (moe_intermediate_size); 0: ffn_hidden_size
  std::int64_t vocab_size = 0;
  std::int64_t seq_length = 0;         ///< default training sequence length
  MlpKind mlp = MlpKind::gelu;
  NormKind norm = NormKind::layernorm;
  PositionKind position = PositionKind::learned;
  bool linear_bias = true;             ///< biases on the linear layers (GPT yes, LLaMA no)
  bool dropout = true;                 ///< dropout layers present (their masks are stored for backward)
  bool tie_embeddings = false;         ///< LM head shares the input embedding
  std::int64_t num_experts = 0;        ///< 0 = dense
  std::int64_t experts_per_token = 0;  ///< top-k routing
  std::int64_t shared_experts = 0;     ///< always-active experts of every MoE layer (DeepSeek's n_shared_experts)
  std::int64_t shared_expert_ffn_hidden_size = 0;  ///< inner size of each shared expert; 0: expert_ffn_hidden_size()
  std::int64_t first_k_dense = 0;      ///< MoE: leading layers with a dense MLP of ffn_hidden_size
  bool encoder = false;                ///< bidirectional attention, post-LN, MLM head (BERT)
  std::int64_t type_vocab_size = 0;    ///< token-type (segment) embeddings (BERT: 2)

  [[nodiscard]] std::int64_t head_dim() const {
    return attention_head_dim > 0 ? attention_head_dim : hidden_size / num_heads;
  }
  [[nodiscard]] bool is_mla() const { return kv_lora_rank > 0; }
  /// Per-head width of queries and keys (MLA: the unrotated and rotary parts together).
  [[nodiscard]] std::int64_t qk_head_dim() const { return is_mla() ? qk_nope_head_dim + qk_rope_head_dim : head_dim(); }
  /// Per-head width of values and of the attention output.
  [[nodiscard]] std::int64_t value_head_dim() const { return is_mla() ? v_head_dim : head_dim(); }
  /// Width of one of K and V over all kv heads (MLA: their mean, per head qk_head_dim and value_head_dim).
  [[nodiscard]] std::int64_t kv_hidden_size() const {
    return is_mla() ? num_heads * (qk_head_dim() + value_head_dim()) / 2 : num_kv_heads * head_dim();
  }
  [[nodiscard]] bool is_moe() const { return num_experts > 0; }
  [[nodiscard]] bool gated_mlp() const { return mlp == MlpKind::swiglu || mlp == MlpKind::geglu; }
  [[nodiscard]] std::int64_t expert_ffn_hidden_size() const {
    return moe_ffn_hidden_size > 0 ? moe_ffn_hidden_size : ffn_hidden_size;
  }
  /// Inner size of all shared experts together (one MLP of that width, as Megatron-LM builds it).
  [[nodiscard]] std::int64_t shared_ffn_hidden_size() const {
    return shared_experts * (shared_expert_ffn_hidden_size > 0 ? shared_expert_ffn_hidden_size : expert_ffn_hidden_size());
  }
  /// Leading layers with a dense MLP before the MoE layers (0 for dense models, whose layers are all alike).
  [[nodiscard]] std::int64_t dense_layers() const { return is_moe() ? std::min(first_k_dense, num_layers) : 0; }
};

/// Which of a model's layers: its usual one (MoE in an MoE model), or one of the dense layers an MoE model leads
/// with (first_k_dense_replace).
enum class LayerKind { usual, leading_dense };

/// Reads a model from a mapping with the model-file keys of CONTRACT.md (Hugging Face names; GPT-2's n_embd,
/// n_layer, n_head, n_inner, n_positions too). Optional keys: name, source, norm (layernorm|rmsnorm),
/// position_embedding (learned|rope), linear_bias, dropout; their defaults follow hidden_act (gelu: GPT style;
/// silu: LLaMA style). Checks every field and the divisibility of hidden by heads (without head_dim) and heads by kv
/// heads. A Hugging Face config.json (it names its model_type or architectures) may hold other keys: they are
/// ignored, and each one close to a known key (a likely misspelling) adds a line to `warnings` when given.
ModelSpec model_from_fields(const core::Fields& fields, std::vector<std::string>* warnings = nullptr);

/// The model as a mapping of model-file keys: model_from_fields(model_to_node(m)) == m. For overrides (what-if
/// sweeps) that must pass the same checks as a model file, and for writing plan files.
YAML::Node model_to_node(const ModelSpec& model);

/// `spec` is a preset name, or a path to a YAML/JSON model file or a Hugging Face config.json.
/// Unknown names are an InputError listing the presets. Warnings about ignored keys go to `warnings` when given.
ModelSpec load_model(const std::string& spec, std::vector<std::string>* warnings = nullptr);

/// The built-in presets (models/presets/*.yaml compiled in), in name order.
std::vector<ModelSpec> model_presets();

/// The raw preset files (generated from models/presets by CMake).
std::span<const core::EmbeddedFile> model_preset_files();

}  // namespace hpsim::models
