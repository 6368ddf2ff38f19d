#include "models/model_fields.hpp"

#include <string_view>

namespace hpsim::models {

namespace {

bool is_gelu_like(std::string_view act) {
  return act == "gelu" || act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "relu";
}

/// The largest value any integer model key takes (16,777,216): 500x today's largest hidden, FFN or vocabulary size and
/// 16x the longest trained sequence, small enough that products of two keys stay exact in 64 bits.
constexpr std::int64_t kMaxModelInteger = std::int64_t{1} << 24;

/// An integer field with a default that may depend on the fields read before it.
ModelField integer(std::string_view key, std::vector<std::string_view> aliases, std::string_view default_text,
                   std::string_view help, std::int64_t ModelSpec::*member,
                   std::function<std::int64_t(const ModelSpec&)> default_of = {}, bool positive = true) {
  ModelField f;
  f.key = key;
  f.aliases = std::move(aliases);
  f.values = positive ? "a positive integer up to 2^24" : "a non-negative integer up to 2^24";
  f.default_text = default_text;
  f.help = help;
  f.read = [member, default_of, positive](ModelSpec& m, const core::Fields& fields, const std::string& k) {
    if (!default_of) m.*member = fields.positive_integer(k);
    else if (positive) m.*member = fields.positive_integer_or(k, default_of(m));
    else m.*member = fields.non_negative_integer_or(k, default_of(m));
    if (m.*member > kMaxModelInteger)
      fields.fail(k, "expected at most " + std::to_string(kMaxModelInteger) + " (2^24), got " +
                         std::to_string(m.*member));
  };
  f.write = [member, key](const ModelSpec& m, YAML::Node& n) { n[std::string(key)] = m.*member; };
  return f;
}

/// A boolean whose default follows the model family (GPT style: true).
ModelField family_boolean(std::string_view key, std::string_view help, bool ModelSpec::*member) {
  ModelField f;
  f.key = key;
  f.values = "true or false";
  f.default_text = "GPT style: true; LLaMA style: false";
  f.help = help;
  f.read = [member](ModelSpec& m, const core::Fields& fields, const std::string& k) {
    m.*member = fields.boolean_or(k, m.mlp == MlpKind::gelu);
  };
  f.write = [member, key](const ModelSpec& m, YAML::Node& n) { n[std::string(key)] = m.*member; };
  return f;
}

/// A choice of two whose default follows the model family: `gpt` for GPT style, `llama` otherwise.
template <typename Enum>
ModelField family_choice(std::string_view key, std::string_view values, std::string_view help, Enum ModelSpec::*member,
                         std::string_view gpt, Enum gpt_value, std::string_view llama, Enum llama_value) {
  ModelField f;
  f.key = key;
  f.values = values;
  f.default_text = "follows hidden_act";
  f.help = help;
  f.read = [=](ModelSpec& m, const core::Fields& fields, const std::string& k) {
    const bool gpt_style = m.mlp == MlpKind::gelu;
    m.*member = fields.choice_or(k, {std::string(gpt), std::string(llama)}, std::string(gpt_style ? gpt : llama)) ==
                        gpt
                    ? gpt_value
                    : llama_value;
  };
  f.write = [=](const ModelSpec& m, YAML::Node& n) { n[std::string(key)] = std::string(m.*member == gpt_value ? gpt : llama); };
  return f;
}

ModelField text(std::string_view key, std::string_view help, std::string ModelSpec::*member) {
  ModelField f;
  f.key = key;
  f.values = "text";
  f.default_text = "empty";
  f.help = help;
  f.sweepable = false;
  f.read = [member](ModelSpec& m, const core::Fields& fields, const std::string& k) { m.*member = fields.string_or(k, ""); };
  f.write = [member, key](const ModelSpec& m, YAML::Node& n) { n[std::string(key)] = m.*member; };
  return f;
}

/// hidden_act's spellings: Hugging Face's (relu2 is NemotronConfig's), NeMo's squared-relu, and hpsim's own swiglu and
/// geglu for gated MLPs that Hugging Face marks by model class rather than by activation.
MlpKind mlp_of(std::string_view act) {
  if (is_gelu_like(act)) return MlpKind::gelu;
  if (act == "geglu") return MlpKind::geglu;
  if (act == "relu2" || act == "squared-relu" || act == "squared_relu") return MlpKind::relu2;
  return MlpKind::swiglu;
}

std::string_view act_name(MlpKind mlp) {
  switch (mlp) {
    case MlpKind::gelu: return "gelu";
    case MlpKind::swiglu: return "silu";
    case MlpKind::geglu: return "geglu";
    case MlpKind::relu2: return "relu2";
  }
  return "gelu";
}

ModelField hidden_act() {
  ModelField f;
  f.key = "hidden_act";
  f.aliases = {"activation_function"};
  f.values = "gelu, gelu_new, gelu_pytorch_tanh, relu (GPT style: 2-matrix MLP); silu, swiglu (LLaMA style: SwiGLU); "
             "geglu (gated GELU, 3 matrices: Grok-1); relu2, squared-relu (squared ReLU, 2 matrices: Nemotron-4)";
  f.default_text = "gelu";
  f.help = "the MLP's activation; also sets the family defaults of the keys after it (gelu: GPT style, else LLaMA style)";
  f.read = [](ModelSpec& m, const core::Fields& fields, const std::string& k) {
    m.mlp = mlp_of(fields.choice_or(k, {"gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "swiglu", "geglu",
                                        "relu2", "squared-relu", "squared_relu"},
                                    "gelu"));
  };
  f.write = [](const ModelSpec& m, YAML::Node& n) { n["hidden_act"] = std::string(act_name(m.mlp)); };
  return f;
}

/// Hugging Face model types that are BERT-style encoders.
bool encoder_type(std::string_view type) { return type == "bert" || type == "roberta"; }

ModelField encoder() {
  ModelField f;
  f.key = "encoder";
  f.values = "true or false";
  f.default_text = "true for Hugging Face model_type bert or roberta, else false";
  f.help = "a BERT-style encoder: bidirectional attention (no causal mask), post-LN, MLM head (dense, LayerNorm, "
           "decoder tied to the embedding)";
  f.read = [](ModelSpec& m, const core::Fields& fields, const std::string& k) {
    m.encoder = fields.boolean_or(k, encoder_type(fields.string_or("model_type", "")));
  };
  f.write = [](const ModelSpec& m, YAML::Node& n) { n["encoder"] = m.encoder; };
  return f;
}

std::vector<ModelField> make_table() {
  const auto heads = [](const ModelSpec& m) { return m.num_heads; };
  const auto four_hidden = [](const ModelSpec& m) { return 4 * m.hidden_size; };
  const auto zero = [](const ModelSpec&) -> std::int64_t { return 0; };
  // Optional sizes: 0 (the default, written back as 0) means "derived" or "absent", so that a what-if sweep of
  // hidden_size still derives the head dimension from it.
  const auto optional = [&](std::string_view key, std::vector<std::string_view> aliases, std::string_view default_text,
                            std::string_view help, std::int64_t ModelSpec::*member) {
    return integer(key, std::move(aliases), default_text, help, member, zero, false);
  };
  // Qwen2-MoE's single shared expert of shared_expert_intermediate_size.
  const auto one_if_sized = [](const ModelSpec& m) -> std::int64_t { return m.shared_expert_ffn_hidden_size > 0 ? 1 : 0; };
  return {
      text("name", "the model's name (default: the file name)", &ModelSpec::name),
      text("source", "where the figures come from (paper, model card)", &ModelSpec::source),
      integer("num_hidden_layers", {"n_layer"}, "required", "transformer layers", &ModelSpec::num_layers),
      integer("hidden_size", {"n_embd"}, "required", "hidden size (a multiple of the heads unless head_dim is given)",
              &ModelSpec::hidden_size),
      integer("num_attention_heads", {"n_head"}, "required", "attention heads", &ModelSpec::num_heads),
      integer("num_key_value_heads", {}, "num_attention_heads", "key/value heads (grouped-query attention)",
              &ModelSpec::num_kv_heads, heads),
      optional("head_dim", {}, "0: hidden_size / num_attention_heads",
               "width of one attention head (Q, K, V projections are hidden x heads*head_dim)",
               &ModelSpec::attention_head_dim),
      optional("q_lora_rank", {}, "0: queries projected from hidden directly",
               "multi-head latent attention (MLA): rank of the query down-projection", &ModelSpec::q_lora_rank),
      optional("kv_lora_rank", {}, "0: not MLA",
               "MLA: rank of the key/value latent (the down-projection is hidden x (kv_lora_rank + qk_rope_head_dim))",
               &ModelSpec::kv_lora_rank),
      optional("qk_nope_head_dim", {}, "0", "MLA: per-head query/key width without rotary positions",
               &ModelSpec::qk_nope_head_dim),
      optional("qk_rope_head_dim", {}, "0", "MLA: per-head query/key width with rotary positions",
               &ModelSpec::qk_rope_head_dim),
      optional("v_head_dim", {}, "0", "MLA: per-head value width", &ModelSpec::v_head_dim),
      integer("intermediate_size", {"n_inner"}, "4 hidden_size",
              "MLP inner size (dense layers; per expert for MoE unless moe_intermediate_size)",
              &ModelSpec::ffn_hidden_size, four_hidden),
      optional("moe_intermediate_size", {}, "0: intermediate_size", "inner size of each routed expert",
               &ModelSpec::moe_ffn_hidden_size),
      integer("vocab_size", {}, "required", "vocabulary", &ModelSpec::vocab_size),
      integer("seq_length", {"max_position_embeddings", "n_positions"}, "required",
              "training sequence length", &ModelSpec::seq_length),
      hidden_act(),
      family_choice("norm", "layernorm or rmsnorm", "normalization (LayerNorm has a bias)", &ModelSpec::norm,
                    "layernorm", NormKind::layernorm, "rmsnorm", NormKind::rmsnorm),
      family_choice("position_embedding", "learned or rope", "positions (learned ones are parameters)",
                    &ModelSpec::position, "learned", PositionKind::learned, "rope", PositionKind::rope),
      family_boolean("linear_bias", "biases on the linear layers", &ModelSpec::linear_bias),
      family_boolean("dropout", "dropout layers (their masks are stored for backward)", &ModelSpec::dropout),
      family_boolean("tie_word_embeddings", "the LM head shares the input embedding", &ModelSpec::tie_embeddings),
      encoder(),
      optional("type_vocab_size", {}, "0", "token-type (segment) embeddings added to the input (BERT: 2)",
               &ModelSpec::type_vocab_size),
      integer("num_local_experts", {"n_routed_experts", "num_experts"}, "0 (dense)", "routed experts per MoE layer",
              &ModelSpec::num_experts, zero, false),
      integer("num_experts_per_tok", {}, "0", "experts each token is routed to (top-k)", &ModelSpec::experts_per_token,
              zero, false),
      optional("shared_expert_intermediate_size", {}, "0: moe_intermediate_size",
               "inner size of each shared expert (Qwen2-MoE's one shared expert)",
               &ModelSpec::shared_expert_ffn_hidden_size),
      integer("n_shared_experts", {}, "0 (1 when shared_expert_intermediate_size is given)",
              "always-active experts of every MoE layer beside the routed ones", &ModelSpec::shared_experts,
              one_if_sized, false),
      optional("first_k_dense_replace", {}, "0",
               "MoE: leading layers with a dense MLP of intermediate_size before the MoE layers",
               &ModelSpec::first_k_dense),
  };
}

}  // namespace

const std::vector<ModelField>& model_field_table() {
  static const std::vector<ModelField> table = make_table();
  return table;
}

}  // namespace hpsim::models
