#include "models/model_spec.hpp"

#include <algorithm>
#include <filesystem>
#include <string_view>

#include "core/error.hpp"
#include "models/model_fields.hpp"

namespace hpsim::models {
namespace {

/// The first spelling of the field present in the mapping, or its canonical key when none is (so that a "missing"
/// error names it).
std::string present_key(const core::Fields& f, const ModelField& field) {
  if (f.has(std::string(field.key))) return std::string(field.key);
  for (const auto alias : field.aliases)
    if (f.has(std::string(alias))) return std::string(alias);
  return std::string(field.key);
}

std::string key_of(const core::Fields& f, std::string_view canonical) {
  for (const auto& field : model_field_table())
    if (field.key == canonical) return present_key(f, field);
  return std::string(canonical);
}

}  // namespace

namespace {

/// Every spelling the table reads.
std::vector<std::string> known_keys() {
  std::vector<std::string> known;
  for (const auto& field : model_field_table()) {
    known.emplace_back(field.key);
    for (const auto alias : field.aliases) known.emplace_back(alias);
  }
  return known;
}

/// Hugging Face keys hpsim ignores on purpose that lie close to one it reads (not misspellings).
bool ignored_on_purpose(const std::string& key) {
  static const std::vector<std::string> keys{"model_type", "architectures"};
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

/// The shape's own consistency, beyond each key's range.
void check_shape(const core::Fields& f, const ModelSpec& m) {
  const std::string hidden_key = key_of(f, "hidden_size"), heads_key = key_of(f, "num_attention_heads");
  // An explicit head_dim (or MLA's per-head widths) decouples the heads from the hidden size.
  if (m.attention_head_dim == 0 && !m.is_mla() && m.hidden_size % m.num_heads != 0)
    f.fail(hidden_key, "expected a multiple of " + heads_key + " (" + std::to_string(m.num_heads) +
                           ") or a head_dim, got " + std::to_string(m.hidden_size));
  if (m.num_kv_heads > m.num_heads || m.num_heads % m.num_kv_heads != 0)
    f.fail("num_key_value_heads", "expected a divisor of " + heads_key + " (" + std::to_string(m.num_heads) +
                                      "), got " + std::to_string(m.num_kv_heads));
  if (m.is_mla() && (m.qk_nope_head_dim + m.qk_rope_head_dim == 0 || m.v_head_dim == 0))
    f.fail(m.v_head_dim == 0 ? "v_head_dim" : "qk_nope_head_dim",
           "expected positive per-head widths (qk_nope_head_dim + qk_rope_head_dim, v_head_dim) with kv_lora_rank");
  if (!m.is_mla() && m.q_lora_rank > 0) f.fail("q_lora_rank", "expected 0 without kv_lora_rank (MLA)");
  const std::string experts_key = key_of(f, "num_local_experts");
  if (m.num_experts > 0 && m.experts_per_token == 0)
    f.fail("num_experts_per_tok", "expected a positive integer when " + experts_key + " is set");
  if (m.experts_per_token > m.num_experts)
    f.fail("num_experts_per_tok", "expected at most " + experts_key + " (" + std::to_string(m.num_experts) +
                                      "), got " + std::to_string(m.experts_per_token));
  if (m.first_k_dense > 0 && m.is_moe() && m.first_k_dense >= m.num_layers)
    f.fail("first_k_dense_replace", "expected fewer than num_hidden_layers (" + std::to_string(m.num_layers) +
                                        "), got " + std::to_string(m.first_k_dense));
  // Counted in floating point before any integer formula sees the shape: 1e15 parameters is 2,000x today's largest
  // models, and keeps every FLOP and byte count hpsim forms in range.
  const double h = static_cast<double>(m.hidden_size);
  const double width = static_cast<double>(std::max(m.num_heads * std::max(m.head_dim(), m.qk_head_dim()), m.hidden_size));
  const double experts = static_cast<double>(std::max<std::int64_t>(1, m.num_experts + m.shared_experts));
  const double ffn = static_cast<double>(std::max({m.ffn_hidden_size, m.expert_ffn_hidden_size(), m.shared_expert_ffn_hidden_size}));
  const double parameters = static_cast<double>(m.num_layers) * (4.0 * h * width + 3.0 * h * ffn * experts) +
                            2.0 * static_cast<double>(m.vocab_size) * h;
  if (parameters > 1e15)
    f.fail(hidden_key, "expected a model of at most 1e15 parameters; these sizes make about " +
                           std::to_string(static_cast<long long>(parameters / 1e12)) + "e12");
}

}  // namespace

ModelSpec model_from_fields(const core::Fields& f, std::vector<std::string>* warnings) {
  // hpsim's own model files and mappings hold only the table's keys (a typo would silently change the model); a
  // Hugging Face config.json (it names its model_type) holds many more, which do not shape the computation: those
  // close to a key hpsim reads are named, since a misspelt one would silently fall back to its default.
  const std::vector<std::string> known = known_keys();
  if (!f.has("model_type") && !f.has("architectures")) {
    f.reject_unknown_keys(known);
  } else if (warnings != nullptr) {
    for (const auto& [key, close] : f.near_misses(known))
      if (!ignored_on_purpose(key))
        warnings->push_back(f.where() + ": " + key + ": ignored; did you mean " + close + "?");
  }
  ModelSpec m;
  for (const auto& field : model_field_table()) field.read(m, f, present_key(f, field));
  check_shape(f, m);
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

ModelSpec load_model(const std::string& spec, std::vector<std::string>* warnings) {
  const std::vector<ModelSpec> presets = model_presets();
  for (const auto& p : presets)
    if (p.name == spec) return p;
  if (core::is_file(spec)) {
    ModelSpec m = model_from_fields(core::Fields(core::load_yaml_file(spec), spec), warnings);
    if (m.name.empty()) m.name = std::filesystem::path(spec).stem().string();
    return m;
  }
  std::string names;
  for (const auto& p : presets) names += (names.empty() ? "" : ", ") + p.name;
  throw core::InputError("model", spec, "expected a preset name (" + names + ") or a model file");
}

YAML::Node model_to_node(const ModelSpec& m) {
  YAML::Node n(YAML::NodeType::Map);
  for (const auto& field : model_field_table()) field.write(m, n);
  return n;
}

}  // namespace hpsim::models
