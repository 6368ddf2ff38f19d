#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "core/fields.hpp"
#include "models/model_fields.hpp"
#include "models/model_spec.hpp"

using namespace hpsim::models;
using hpsim::core::InputError;

namespace {

/// Writes `text` to a fresh file in the temporary directory and returns its path.
std::string temp_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("hpsim_models_test_" + name);
  std::ofstream(path) << text;
  return path.string();
}

ModelSpec from_text(const std::string& text) {
  return model_from_fields(hpsim::core::Fields(hpsim::core::parse_yaml_text(text, "m.yaml"), "m.yaml"));
}

std::string message_of(const std::string& text) {
  try {
    (void)from_text(text);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

const std::string kBase =
    "num_hidden_layers: 2\nhidden_size: 64\nnum_attention_heads: 4\nvocab_size: 100\nseq_length: 32\n";

}  // namespace

TEST_CASE("every preset loads by name and cites a source") {
  const auto presets = model_presets();
  CHECK(presets.size() == 30);
  for (const char* name : {"gpt-1.7b", "gpt-3.6b", "gpt-7.5b", "gpt-18.4b", "gpt-39.1b", "gpt-76.1b", "gpt-145.6b",
                           "gpt-310.1b", "gpt-529.6b", "gpt-1t", "gpt3-175b", "megatron-22b", "megatron-530b",
                           "megatron-1t", "llama2-7b", "llama2-13b", "llama2-70b", "llama3-8b", "llama3-70b",
                           "llama3-405b", "mixtral-8x7b"}) {
    CAPTURE(name);
    const ModelSpec m = load_model(name);
    CHECK(m.name == name);
    CHECK(m.source.size() > 20);
  }
  const ModelSpec gpt = load_model("gpt-1t");
  CHECK((gpt.num_layers == 128 && gpt.hidden_size == 25600 && gpt.num_heads == 160 && gpt.vocab_size == 51200));
  CHECK((gpt.mlp == MlpKind::gelu && gpt.norm == NormKind::layernorm && gpt.position == PositionKind::learned &&
         gpt.linear_bias && gpt.dropout && gpt.tie_embeddings && gpt.ffn_hidden_size == 4 * 25600));
  const ModelSpec llama = load_model("llama2-70b");
  CHECK((llama.num_kv_heads == 8 && llama.mlp == MlpKind::swiglu && llama.norm == NormKind::rmsnorm &&
         llama.position == PositionKind::rope && !llama.linear_bias && !llama.dropout && !llama.tie_embeddings));
  const ModelSpec mixtral = load_model("mixtral-8x7b");
  CHECK((mixtral.is_moe() && mixtral.num_experts == 8 && mixtral.experts_per_token == 2));
}

TEST_CASE("a Hugging Face LLaMA config.json loads; the name defaults to the file stem") {
  const std::string path = temp_file("llama_config.json", R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
    "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 8192,
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "tie_word_embeddings": false,
    "torch_dtype": "bfloat16", "vocab_size": 128256})");
  const ModelSpec m = load_model(path);
  CHECK(m.name == "hpsim_models_test_llama_config");
  CHECK((m.seq_length == 8192 && m.num_kv_heads == 8 && m.ffn_hidden_size == 14336 && m.vocab_size == 128256));
  CHECK((m.mlp == MlpKind::swiglu && m.norm == NormKind::rmsnorm && !m.dropout && !m.tie_embeddings));
  CHECK(!m.is_moe());
  std::filesystem::remove(path);
}

TEST_CASE("a GPT-2 config.json loads with its own key names") {
  const std::string path = temp_file("gpt2.json", R"({
    "activation_function": "gelu_new", "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_inner": null,
    "n_layer": 12, "n_positions": 1024, "vocab_size": 50257, "model_type": "gpt2"})");
  const ModelSpec m = load_model(path);
  CHECK((m.num_layers == 12 && m.hidden_size == 768 && m.num_heads == 12 && m.num_kv_heads == 12));
  CHECK((m.ffn_hidden_size == 3072 && m.seq_length == 1024 && m.vocab_size == 50257));
  CHECK((m.mlp == MlpKind::gelu && m.norm == NormKind::layernorm && m.position == PositionKind::learned));
  CHECK((m.linear_bias && m.dropout && m.tie_embeddings));
  std::filesystem::remove(path);
}

TEST_CASE("explicit keys override the family defaults") {
  const ModelSpec m = from_text(kBase + "hidden_act: gelu\nnorm: rmsnorm\nposition_embedding: rope\n"
                                        "linear_bias: false\ndropout: false\ntie_word_embeddings: false\n");
  CHECK((m.norm == NormKind::rmsnorm && m.position == PositionKind::rope && !m.linear_bias && !m.dropout &&
         !m.tie_embeddings && m.mlp == MlpKind::gelu));
  CHECK(from_text(kBase + "hidden_act: swiglu\n").mlp == MlpKind::swiglu);
  // A Hugging Face config (it names its model_type) carries keys that do not shape the computation: ignored.
  CHECK(from_text(kBase + "model_type: llama\nunknown_key: [1, 2]\n").hidden_size == 64);
  // In hpsim's own model files an unknown key is a typo that would change the model silently: an error, with the
  // key it resembles.
  CHECK_THROWS_WITH_AS(from_text(kBase + "num_key_value_head: 2\n"),
                       doctest::Contains("num_key_value_head: unknown key; did you mean num_key_value_heads?"),
                       hpsim::core::InputError);
}

TEST_CASE("bad model input names the file and the field") {
  CHECK(message_of("hidden_size: 64\nnum_attention_heads: 4\nvocab_size: 100\nseq_length: 32\n") ==
        "m.yaml: num_hidden_layers: missing (required)");
  CHECK(message_of("num_hidden_layers: 2\nhidden_size: 64\nnum_attention_heads: 4\nvocab_size: 100\n") ==
        "m.yaml: seq_length: missing (required)");
  CHECK(message_of(kBase + "num_key_value_heads: -2\n") ==
        "m.yaml: num_key_value_heads: expected a positive integer, got -2");
  CHECK(message_of("num_hidden_layers: two\nhidden_size: 64\nnum_attention_heads: 4\nvocab_size: 100\n"
                   "seq_length: 32\n") == "m.yaml: num_hidden_layers: expected a number, got 'two'");
  CHECK(message_of(kBase + "num_key_value_heads: 3\n") ==
        "m.yaml: num_key_value_heads: expected a divisor of num_attention_heads (4), got 3");
  CHECK(message_of("num_hidden_layers: 2\nhidden_size: 66\nnum_attention_heads: 4\nvocab_size: 100\n"
                   "seq_length: 32\n") ==
        "m.yaml: hidden_size: expected a multiple of num_attention_heads (4) or a head_dim, got 66");
  CHECK(message_of(kBase + "hidden_act: tanh\n").starts_with("m.yaml: hidden_act: expected one of gelu"));
  CHECK(message_of(kBase + "num_local_experts: 2\nnum_experts_per_tok: 3\n") ==
        "m.yaml: num_experts_per_tok: expected at most num_local_experts (2), got 3");
  CHECK(message_of(kBase + "num_local_experts: 2\n").starts_with("m.yaml: num_experts_per_tok:"));

  // Unknown preset: lists the presets.
  try {
    (void)load_model("gpt-9000");
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.starts_with("model: gpt-9000: expected a preset name ("));
    CHECK(msg.find("llama3-8b") != std::string::npos);
  }
  // Broken YAML and a missing key in a file: the file's path is in the message.
  const std::string broken = temp_file("broken.yaml", "num_hidden_layers: [1, 2\nhidden_size: 4\n");
  CHECK_THROWS_AS((void)load_model(broken), InputError);
  try {
    (void)load_model(broken);
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).starts_with(broken + ": expected valid YAML or JSON"));
  }
  const std::string missing = temp_file("missing.yaml", "num_hidden_layers: 2\nhidden_size: 64\n");
  CHECK_THROWS_WITH_AS((void)load_model(missing), (missing + ": num_attention_heads: missing (required)").c_str(),
                       InputError);
  std::filesystem::remove(broken);
  std::filesystem::remove(missing);
}

TEST_CASE("model fields: every preset round-trips through the writer, and every key written is one the table reads") {
  for (const auto& m : hpsim::models::model_presets()) {
    const YAML::Node n = YAML::Load(YAML::Dump(hpsim::models::model_to_node(m)));
    const auto back = hpsim::models::model_from_fields(hpsim::core::Fields(n, m.name));
    CHECK(YAML::Dump(hpsim::models::model_to_node(back)) == YAML::Dump(hpsim::models::model_to_node(m)));
    std::size_t keys = 0;
    for (const auto& kv : n) {
      bool known = false;
      for (const auto& f : hpsim::models::model_field_table()) known = known || f.key == kv.first.as<std::string>();
      CHECK_MESSAGE(known, kv.first.as<std::string>());
      ++keys;
    }
    CHECK(keys == hpsim::models::model_field_table().size());
  }
  // GPT-2's spellings are read as their Hugging Face keys.
  const auto gpt2 = hpsim::models::model_from_fields(hpsim::core::Fields(
      YAML::Load("{n_layer: 12, n_embd: 768, n_head: 12, vocab_size: 50257, n_positions: 1024, "
                 "activation_function: gelu_new}"),
      "gpt2.json"));
  CHECK(gpt2.num_layers == 12);
  CHECK(gpt2.ffn_hidden_size == 4 * 768);
  CHECK(gpt2.seq_length == 1024);
  CHECK(gpt2.tie_embeddings);
}

TEST_CASE("model sizes beyond any trained model are refused before any formula sees them") {
  // A key beyond 2^24, and keys each in range whose product is a model of more than 1e15 parameters.
  CHECK(message_of(kBase + "intermediate_size: 1024000000000\n") ==
        "m.yaml: intermediate_size: expected at most 16777216 (2^24), got 1024000000000");
  const std::string huge = "num_hidden_layers: 80\nhidden_size: 8192000\nnum_attention_heads: 64\n"
                           "intermediate_size: 28672\nvocab_size: 128256\nseq_length: 8192\n";
  CHECK(message_of(huge).find("hidden_size: expected a model of at most 1e15 parameters") != std::string::npos);
  CHECK(from_text(kBase + "intermediate_size: 16777216\n").ffn_hidden_size == 16777216);  // the bound itself is fine
}
