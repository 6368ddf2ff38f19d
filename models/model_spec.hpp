#pragma once
/// The shape of a decoder-only transformer, and how to load one (preset, model file, Hugging Face config.json).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/embedded_file.hpp"
#include "core/fields.hpp"

namespace hpsim::models {

enum class MlpKind { gelu, swiglu };           ///< 2-matrix GELU MLP or 3-matrix SwiGLU MLP
enum class NormKind { layernorm, rmsnorm };    ///< LayerNorm has a bias, RMSNorm does not
enum class PositionKind { learned, rope };     ///< learned position embeddings add seq_length*hidden parameters

/// A decoder-only transformer. Integer sizes as in Hugging Face configs; MoE when num_experts > 0.
struct ModelSpec {
  std::string name;    ///< preset name or file name
  std::string source;  ///< where the figures come from (paper, model card)
  std::int64_t num_layers = 0;
  std::int64_t hidden_size = 0;
  std::int64_t num_heads = 0;
  std::int64_t num_kv_heads = 0;       ///< = num_heads without GQA
  std::int64_t ffn_hidden_size = 0;    ///< MLP inner size (per expert for MoE)
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

  [[nodiscard]] std::int64_t head_dim() const { return hidden_size / num_heads; }
  [[nodiscard]] std::int64_t kv_hidden_size() const { return num_kv_heads * head_dim(); }
  [[nodiscard]] bool is_moe() const { return num_experts > 0; }
};

/// Reads a model from a mapping with the model-file keys of CONTRACT.md (Hugging Face names; GPT-2's n_embd,
/// n_layer, n_head, n_inner, n_positions too). Optional keys: name, source, norm (layernorm|rmsnorm),
/// position_embedding (learned|rope), linear_bias, dropout; their defaults follow hidden_act (gelu: GPT style;
/// silu: LLaMA style). Checks every field and the divisibility of hidden by heads and heads by kv heads.
ModelSpec model_from_fields(const core::Fields& fields);

/// The model as a mapping of model-file keys: model_from_fields(model_to_node(m)) == m. For overrides (what-if
/// sweeps) that must pass the same checks as a model file, and for writing plan files.
YAML::Node model_to_node(const ModelSpec& model);

/// `spec` is a preset name, or a path to a YAML/JSON model file or a Hugging Face config.json.
/// Unknown names are an InputError listing the presets.
ModelSpec load_model(const std::string& spec);

/// The built-in presets (models/presets/*.yaml compiled in), in name order.
std::vector<ModelSpec> model_presets();

/// The raw preset files (generated from models/presets by CMake).
std::span<const core::EmbeddedFile> model_preset_files();

}  // namespace hpsim::models
