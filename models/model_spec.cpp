#include "models/model_spec.hpp"

#include <algorithm>
#include <filesystem>
#include <string_view>

#include "core/error.hpp"

namespace hpsim::models {
namespace {

/// The first of `keys` present in the mapping (Hugging Face and GPT-2 spell some fields differently), or the
/// first key when none is, so that a "missing" error names the canonical key.
std::string present_key(const core::Fields& f, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (f.has(k)) return k;
  return *keys.begin();
}

bool is_gelu_like(std::string_view act) {
  return act == "gelu" || act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "relu";
}

}  // namespace

ModelSpec model_from_fields(const core::Fields& f) {
  ModelSpec m;
  m.name = f.string_or("name", "");
  m.source = f.string_or("source", "");

  const std::string layers_key = present_key(f, {"num_hidden_layers", "n_layer"});
  const std::string hidden_key = present_key(f, {"hidden_size", "n_embd"});
  const std::string heads_key = present_key(f, {"num_attention_heads", "n_head"});
  m.num_layers = f.positive_integer(layers_key);
  m.hidden_size = f.positive_integer(hidden_key);
  m.num_heads = f.positive_integer(heads_key);
  m.num_kv_heads = f.positive_integer_or("num_key_value_heads", m.num_heads);
  const std::string ffn_key = present_key(f, {"intermediate_size", "n_inner"});
  m.ffn_hidden_size = f.positive_integer_or(ffn_key, 4 * m.hidden_size);
  m.vocab_size = f.positive_integer("vocab_size");
  m.seq_length = f.positive_integer(present_key(f, {"seq_length", "max_position_embeddings", "n_positions"}));

  if (m.hidden_size % m.num_heads != 0)
    f.fail(hidden_key, "expected a multiple of " + heads_key + " (" + std::to_string(m.num_heads) + "), got " +
                           std::to_string(m.hidden_size));
  if (m.num_kv_heads > m.num_heads || m.num_heads % m.num_kv_heads != 0)
    f.fail("num_key_value_heads", "expected a divisor of " + heads_key + " (" + std::to_string(m.num_heads) +
                                      "), got " + std::to_string(m.num_kv_heads));

  const std::vector<std::string> acts = {"gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "swiglu"};
  const std::string act_key = present_key(f, {"hidden_act", "activation_function"});
  const std::string act = f.choice_or(act_key, acts, "gelu");
  const bool gpt_style = is_gelu_like(act);  // otherwise silu/swiglu: the LLaMA family

  // Family defaults (GPT: Megatron/GPT-2; LLaMA: LlamaConfig/MixtralConfig), each overridable.
  m.mlp = gpt_style ? MlpKind::gelu : MlpKind::swiglu;
  m.norm = f.choice_or("norm", {"layernorm", "rmsnorm"}, gpt_style ? "layernorm" : "rmsnorm") == "layernorm"
               ? NormKind::layernorm
               : NormKind::rmsnorm;
  m.position = f.choice_or("position_embedding", {"learned", "rope"}, gpt_style ? "learned" : "rope") == "learned"
                   ? PositionKind::learned
                   : PositionKind::rope;
  m.linear_bias = f.boolean_or("linear_bias", gpt_style);
  m.dropout = f.boolean_or("dropout", gpt_style);
  m.tie_embeddings = f.boolean_or("tie_word_embeddings", gpt_style);

  m.num_experts = f.non_negative_integer_or("num_local_experts", 0);
  m.experts_per_token = f.non_negative_integer_or("num_experts_per_tok", 0);
  if (m.num_experts > 0 && m.experts_per_token == 0)
    f.fail("num_experts_per_tok", "expected a positive integer when num_local_experts is set");
  if (m.experts_per_token > m.num_experts)
    f.fail("num_experts_per_tok", "expected at most num_local_experts (" + std::to_string(m.num_experts) +
                                      "), got " + std::to_string(m.experts_per_token));
  return m;
}

std::vector<ModelSpec> model_presets() {
  // Parsed once: presets are compiled in and immutable.
  static const std::vector<ModelSpec> presets = [] {
    std::vector<ModelSpec> out;
    for (const auto& file : model_preset_files()) {
      const std::string where(file.name);
      ModelSpec m = model_from_fields(core::Fields(core::parse_yaml_text(std::string(file.text), where), where));
      if (m.name.empty()) m.name = std::filesystem::path(where).stem().string();
      out.push_back(std::move(m));
    }
    std::sort(out.begin(), out.end(), [](const ModelSpec& a, const ModelSpec& b) { return a.name < b.name; });
    return out;
  }();
  return presets;
}

ModelSpec load_model(const std::string& spec) {
  const std::vector<ModelSpec> presets = model_presets();
  for (const auto& p : presets)
    if (p.name == spec) return p;
  if (core::is_file(spec)) {
    ModelSpec m = model_from_fields(core::Fields(core::load_yaml_file(spec), spec));
    if (m.name.empty()) m.name = std::filesystem::path(spec).stem().string();
    return m;
  }
  std::string names;
  for (const auto& p : presets) names += (names.empty() ? "" : ", ") + p.name;
  throw core::InputError("model", spec, "expected a preset name (" + names + ") or a model file");
}

YAML::Node model_to_node(const ModelSpec& m) {
  YAML::Node n(YAML::NodeType::Map);
  n["name"] = m.name;
  n["source"] = m.source;
  n["num_hidden_layers"] = m.num_layers;
  n["hidden_size"] = m.hidden_size;
  n["num_attention_heads"] = m.num_heads;
  n["num_key_value_heads"] = m.num_kv_heads;
  n["intermediate_size"] = m.ffn_hidden_size;
  n["vocab_size"] = m.vocab_size;
  n["seq_length"] = m.seq_length;
  n["hidden_act"] = m.mlp == MlpKind::swiglu ? "silu" : "gelu";
  n["norm"] = m.norm == NormKind::rmsnorm ? "rmsnorm" : "layernorm";
  n["position_embedding"] = m.position == PositionKind::rope ? "rope" : "learned";
  n["linear_bias"] = m.linear_bias;
  n["dropout"] = m.dropout;
  n["tie_word_embeddings"] = m.tie_embeddings;
  n["num_local_experts"] = m.num_experts;
  n["num_experts_per_tok"] = m.experts_per_token;
  return n;
}

}  // namespace hpsim::models
