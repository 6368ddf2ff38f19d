// Today's model shapes lowered to operators: explicit head_dim, multi-head latent attention, shared experts, leading
// dense layers, GeGLU and squared-ReLU MLPs, BERT-style encoders. Expected values computed by hand from the shapes.
#include <doctest/doctest.h>

#include <string_view>

#include "core/error.hpp"
#include "models/formulas.hpp"
#include "models/model_spec.hpp"
#include "models/operators.hpp"

using namespace hpsim::models;

namespace {

const Operator& op_named(const std::vector<Operator>& ops, std::string_view name) {
  for (const auto& op : ops)
    if (op.name == name) return op;
  FAIL("no operator " << name);
  return ops.front();
}

bool has_op(const std::vector<Operator>& ops, std::string_view name) {
  for (const auto& op : ops)
    if (op.name == name) return true;
  return false;
}

ShardShape shape(std::int64_t tp, std::int64_t b, std::int64_t s, bool flash = false) {
  ShardShape sh;
  sh.tp = tp;
  sh.micro_batch = b;
  sh.seq_length = s;
  sh.flash_attention = flash;
  return sh;
}

double forward_matmul_flops(const std::vector<Operator>& ops) {
  double sum = 0;
  for (const auto& op : ops)
    if (op.kind != OpKind::elementwise) sum += op.forward_flops.value();
  return sum;
}

}  // namespace

TEST_CASE("explicit head_dim: projections are h x heads*head_dim (Qwen3-235B-A22B: h 4096, 64 heads of 128)") {
  const ModelSpec m = load_model("qwen3-235b-a22b");
  CHECK(m.head_dim() == 128);  // not 4096 / 64 = 64
  const auto ops = lower_layer(m, shape(4, 1, 4096));
  // Q: 64/4 heads, K and V: 4/4 kv heads: n = (16 + 2) * 128 = 2304; attn_proj k = 16 * 128 = 2048, n = h.
  CHECK((op_named(ops, "qkv").n == 2304 && op_named(ops, "qkv").k == 4096));
  CHECK((op_named(ops, "attn_proj").k == 2048 && op_named(ops, "attn_proj").n == 4096));
  CHECK(op_named(ops, "attn_scores").k == 128);
  // Routed experts of moe_intermediate_size 1536 (not intermediate_size 12288): gate and up fused, n = 2*1536/4.
  CHECK(op_named(ops, "mlp_up").n == 768);
  CHECK(op_named(ops, "router").n == 128);
  // hidden_size need not be heads * head_dim once head_dim is given.
  CHECK_NOTHROW(model_from_fields(hpsim::core::Fields(
      YAML::Load("{num_hidden_layers: 2, hidden_size: 3072, num_attention_heads: 16, head_dim: 256, vocab_size: 256, "
                 "seq_length: 64, hidden_act: geglu}"),
      "gemma.yaml")));
}

TEST_CASE("MLA: DeepSeek-V3's projections, attention widths and FLOPs (tp 1 and tp 8)") {
  const ModelSpec m = load_model("deepseek-v3");
  const std::int64_t s = 4096;
  const auto ops = lower_layer(m, shape(1, 1, s), LayerKind::leading_dense);
  // q down 7168 -> 1536, normed, up to 128 heads * (128 + 64); kv down to 512 + 64, normed, up to 128 * (128 + 128).
  CHECK((op_named(ops, "q_down").n == 1536 && op_named(ops, "q_down").k == 7168));
  CHECK((op_named(ops, "q_up").n == 24576 && op_named(ops, "q_up").k == 1536));
  CHECK((op_named(ops, "kv_down").n == 576 && op_named(ops, "kv_down").k == 7168));
  CHECK((op_named(ops, "kv_up").n == 32768 && op_named(ops, "kv_up").k == 512));
  CHECK(op_named(ops, "q_norm").vector_kernel == hpsim::core::VectorKernel::rmsnorm);
  CHECK(!has_op(ops, "qkv"));
  // Scores over the 192-wide query/key heads, context over the 128-wide values, output from 128 * 128.
  CHECK((op_named(ops, "attn_scores").k == 192 && op_named(ops, "attn_scores").batch == 128));
  CHECK((op_named(ops, "attn_context").n == 128 && op_named(ops, "attn_context").k == s));
  CHECK((op_named(ops, "attn_proj").k == 16384 && op_named(ops, "attn_proj").n == 7168));
  // Forward matmul FLOPs of a dense layer: 2 s * (weights 7168*1536 + 1536*24576 + 7168*576 + 512*32768 +
  // 16384*7168 = 187,105,280) + 2 s^2 * 128 * (192 + 128) + 2 s * 3 * 7168 * 18432 (the dense SwiGLU MLP).
  const double S = double(s);
  CHECK(forward_matmul_flops(ops) ==
        doctest::Approx(2 * S * 187105280.0 + 2 * S * S * 128 * 320 + 2 * S * 3 * 7168.0 * 18432).epsilon(1e-12));
  // Rotary positions turn the queries' 64-wide rotary parts and the one shared rotary key: s * (128 + 1) * 64.
  CHECK(op_named(ops, "rope").forward_vector_flops.value() == doctest::Approx(S * 129 * 64 * vector_flops::kRope));
  // Activations: the q_up keeps its normed latent and Q; kv_up keeps its latent and K, V (2-byte elements).
  CHECK(op_named(ops, "q_up").activation_bytes.value() == doctest::Approx(2 * S * (1536 + 24576)));
  CHECK(op_named(ops, "kv_up").activation_bytes.value() == doctest::Approx(2 * S * (512 + 128 * (192 + 128))));
  CHECK(op_named(ops, "q_down").activation_bytes.value() == doctest::Approx(2 * S * 7168));  // the layer input
  CHECK(op_named(ops, "kv_down").activation_bytes.value() == 0);                            // the same input

  // tp 8: the down-projections are replicated, the up-projections and the output split by heads (16 per rank).
  const auto tp8 = lower_layer(m, shape(8, 1, s));
  CHECK((op_named(tp8, "q_down").n == 1536 && op_named(tp8, "kv_down").n == 576));
  CHECK((op_named(tp8, "q_up").n == 16 * 192 && op_named(tp8, "kv_up").n == 16 * 256));
  CHECK(op_named(tp8, "attn_proj").k == 16 * 128);

  // Fused attention: FLOPs of both matmuls, halved by the causal mask; the kernel's head dimension is 192.
  const auto fa = op_named(lower_layer(m, shape(1, 1, s, true)), "attention");
  CHECK(fa.k == 192);
  CHECK(fa.forward_flops.value() == doctest::Approx(0.5 * 2 * S * S * 128 * 320));
  // Reads Q (128*192), K (128*192), V (128*128), writes O (128*128) per token, plus the fp32 logsumexp.
  CHECK(fa.forward_bytes.value() == doctest::Approx(2 * S * 128 * (192 + 128 + 192 + 128) + 4 * 128 * S));
}

TEST_CASE("DeepSeek-V3 MoE layer: 256 routed experts of 2048, one shared expert, layer kinds") {
  const ModelSpec m = load_model("deepseek-v3");
  CHECK(m.dense_layers() == 3);
  ShardShape sh = shape(2, 1, 4096);
  sh.ep = 64;
  const auto ops = lower_layer(m, sh);
  CHECK(op_named(ops, "router").n == 256);
  // Routed: b*s*top_k = 32768 rows (experts split tp = 2 ways, so each rank of the pair takes every copy) over the 4
  // local experts, 8192 per expert in one grouped GEMM; gate and up fused: n = 2*2048/2.
  const auto& routed = op_named(ops, "mlp_up");
  CHECK((routed.m == 8192 && routed.batch == 4 && routed.n == 2048));
  // Shared expert: every token through one SwiGLU MLP of 1 * 2048, split tp ways like a dense MLP.
  const auto& shared = op_named(ops, "shared_up");
  CHECK((shared.m == 4096 && shared.n == 2048 && shared.k == 7168));
  CHECK((op_named(ops, "shared_down").k == 1024 && op_named(ops, "shared_down").row_parallel));
  // The leading dense layers have the dense MLP of intermediate_size 18432 and no router.
  const auto dense = lower_layer(m, sh, LayerKind::leading_dense);
  CHECK(!has_op(dense, "router"));
  CHECK(!has_op(dense, "shared_up"));
  CHECK(op_named(dense, "mlp_up").n == 18432);  // 2 * 18432 / 2
  // model_step_flops counts 3 dense and 58 MoE layers.
  ShardShape one = shape(1, 1, 4096);
  // Backward twice the forward, 8 sequences.
  const double expected = 3.0 * 8 * (58 * forward_matmul_flops(lower_layer(m, one)) +
                                     3 * forward_matmul_flops(lower_layer(m, one, LayerKind::leading_dense)) +
                                     forward_matmul_flops(lower_lm_head(m, one)));
  CHECK(model_step_flops(m, 8, 4096).value() == doctest::Approx(expected).epsilon(1e-12));
}

TEST_CASE("GeGLU (Grok-1) is gated, squared ReLU (Nemotron-4) is not") {
  const ModelSpec grok = load_model("grok-1");
  CHECK((grok.mlp == MlpKind::geglu && grok.gated_mlp()));
  const auto g = lower_layer(grok, shape(8, 1, 8192));
  // Gate and up fused: n = 2 * 32768 / 8; GELU of the gate times up on the 8192 * top-2 routed rows: keeps both
  // inputs, GELU's kernel.
  CHECK(op_named(g, "mlp_up").n == 8192);
  const auto& gact = op_named(g, "mlp_act");
  const double ny = 16384.0 * 4096;
  CHECK(gact.vector_kernel == hpsim::core::VectorKernel::gelu);
  CHECK(gact.forward_vector_flops.value() == doctest::Approx(ny * (vector_flops::kGeluForward + 1)));
  CHECK(gact.activation_bytes.value() == doctest::Approx(2 * 2 * ny));

  const ModelSpec nem = load_model("nemotron4-15b");
  CHECK((nem.mlp == MlpKind::relu2 && !nem.gated_mlp()));
  const auto n = lower_layer(nem, shape(8, 1, 4096));
  CHECK(op_named(n, "mlp_up").n == 24576 / 8);  // one matrix up
  const auto& nact = op_named(n, "mlp_act");
  const double nn = 4096.0 * 3072;
  // relu(x)^2 reads x and writes y (2-byte elements); backward reads dy and x, writes dx; keeps x.
  CHECK(nact.forward_bytes.value() == doctest::Approx(2 * 2 * nn));
  CHECK(nact.backward_bytes.value() == doctest::Approx(3 * 2 * nn));
  CHECK(nact.activation_bytes.value() == doctest::Approx(2 * nn));
  CHECK(nact.forward_vector_flops.value() == doctest::Approx(nn * 2));
  CHECK(nact.backward_vector_flops.value() == doctest::Approx(nn * 3));
  // Hugging Face's NemotronConfig spells it relu2, NeMo squared-relu.
  for (const char* act : {"relu2", "squared-relu"}) {
    const auto m = model_from_fields(hpsim::core::Fields(
        YAML::Load(std::string("{num_hidden_layers: 2, hidden_size: 64, num_attention_heads: 4, vocab_size: 256, "
                               "seq_length: 64, hidden_act: ") + act + "}"),
        "m.yaml"));
    CHECK(m.mlp == MlpKind::relu2);
  }
}

TEST_CASE("BERT: bidirectional attention (no causal halving), token types, post-LN embedding norm, MLM head") {
  const ModelSpec m = load_model("bert-large");
  CHECK(m.encoder);
  const double S = 512, b = 4;
  // Fused attention attends both ways: all of QK^T and AV, 2 * 2 * b * s^2 * h.
  const auto fa = op_named(lower_layer(m, shape(1, 4, 512, true)), "attention");
  CHECK(!fa.causal);
  CHECK(fa.forward_flops.value() == doctest::Approx(4 * b * S * S * 1024));
  // The unfused softmax touches every score, not the unmasked half.
  const auto unfused = lower_layer(m, shape(1, 4, 512));
  const double scores = b * 16 * S * S;
  CHECK(op_named(unfused, "softmax").forward_vector_flops.value() ==
        doctest::Approx(scores * (vector_flops::kSoftmaxForward + vector_flops::kDropoutForward)));
  // The same shape as a decoder halves both.
  ModelSpec decoder = m;
  decoder.encoder = false;
  CHECK(op_named(lower_layer(decoder, shape(1, 4, 512, true)), "attention").forward_flops.value() ==
        doctest::Approx(2 * b * S * S * 1024));

  // Embedding: token, position and token-type rows; then BERT's embedding LayerNorm.
  const auto emb = lower_embedding(m, shape(1, 4, 512));
  REQUIRE(emb.size() == 2);
  const double rows = 2 * b * S * 1024;
  // Token rows read + written, position and type rows read, dropout (2+2+1) per element.
  CHECK(emb[0].forward_bytes.value() == doctest::Approx(4 * rows + 5 * b * S * 1024));
  CHECK((emb[1].name == "embedding_norm" && emb[1].vector_kernel == hpsim::core::VectorKernel::layernorm));

  // MLM head: dense h x h, GELU, LayerNorm, then the (tied) decoder and the loss; no final norm.
  const auto head = lower_lm_head(m, shape(1, 4, 512));
  const char* order[] = {"mlm_dense", "mlm_act", "mlm_norm", "lm_head", "cross_entropy"};
  REQUIRE(head.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK(head[i].name == order[i]);
  CHECK((head[0].m == 2048 && head[0].n == 1024 && head[0].k == 1024));
  CHECK(head[0].forward_flops.value() == doctest::Approx(2.0 * 2048 * 1024 * 1024));

  // Hugging Face's model_type bert makes an encoder.
  const auto hf = model_from_fields(hpsim::core::Fields(
      YAML::Load("{model_type: bert, num_hidden_layers: 2, hidden_size: 64, num_attention_heads: 4, vocab_size: 256, "
                 "max_position_embeddings: 64, type_vocab_size: 2, hidden_act: gelu}"),
      "config.json"));
  CHECK((hf.encoder && hf.type_vocab_size == 2 && hf.tie_embeddings));
}

TEST_CASE("Hugging Face spellings of the expert count; MLA keys are checked") {
  const std::string base = "{num_hidden_layers: 4, hidden_size: 64, num_attention_heads: 4, vocab_size: 256, "
                           "seq_length: 64, hidden_act: silu, num_experts_per_tok: 2, ";
  for (const char* key : {"num_local_experts", "n_routed_experts", "num_experts"}) {
    CAPTURE(key);
    const auto m = model_from_fields(hpsim::core::Fields(YAML::Load(base + key + ": 8}"), "m.yaml"));
    CHECK(m.num_experts == 8);
  }
  // DeepSeek's config refused before: num_experts_per_tok against an expert count read under another name.
  CHECK(load_model(std::string(HPSIM_SOURCE_DIR) + "/examples/models/deepseek-v3-config.json").num_experts == 256);
  // Without positive per-head widths MLA is not a shape.
  CHECK_THROWS_WITH_AS(model_from_fields(hpsim::core::Fields(
                           YAML::Load("{num_hidden_layers: 2, hidden_size: 64, num_attention_heads: 4, "
                                      "vocab_size: 256, seq_length: 64, kv_lora_rank: 16}"),
                           "m.yaml")),
                       doctest::Contains("v_head_dim"), hpsim::core::InputError);
  CHECK_THROWS_WITH_AS(model_from_fields(hpsim::core::Fields(
                           YAML::Load(base + "num_experts: 8, first_k_dense_replace: 4}"), "m.yaml")),
                       doctest::Contains("first_k_dense_replace"), hpsim::core::InputError);
}

TEST_CASE("a Hugging Face config.json: unknown keys are ignored, those close to a known key are warned about") {
  // The published DeepSeek-V3 config.json: nothing in it is a likely misspelling.
  std::vector<std::string> warnings;
  const ModelSpec m = load_model(std::string(HPSIM_SOURCE_DIR) + "/examples/models/deepseek-v3-config.json", &warnings);
  CHECK(warnings.empty());
  CHECK(total_parameters(m) == total_parameters(load_model("deepseek-v3")));
  // A misspelt key is named with the key it resembles, and the model still loads.
  const auto node = YAML::Load("{model_type: llama, num_hidden_layers: 2, hidden_size: 64, num_attention_heads: 4, "
                               "vocab_size: 256, seq_length: 64, num_key_value_head: 2}");
  std::vector<std::string> typo;
  const ModelSpec t = model_from_fields(hpsim::core::Fields(node, "config.json"), &typo);
  REQUIRE(typo.size() == 1);
  CHECK(typo[0] == "config.json: num_key_value_head: ignored; did you mean num_key_value_heads?");
  CHECK(t.num_kv_heads == 4);
  // In hpsim's own files the same key is an error.
  CHECK_THROWS_WITH_AS(model_from_fields(hpsim::core::Fields(
                           YAML::Load("{num_hidden_layers: 2, hidden_size: 64, num_attention_heads: 4, "
                                      "vocab_size: 256, seq_length: 64, num_key_value_head: 2}"),
                           "m.yaml")),
                       doctest::Contains("did you mean num_key_value_heads"), hpsim::core::InputError);
}
