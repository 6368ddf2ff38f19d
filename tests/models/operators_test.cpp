#include <doctest/doctest.h>

#include <string_view>

#include "models/formulas.hpp"
#include "models/model_spec.hpp"
#include "models/operators.hpp"

using namespace hpsim::models;

namespace {

const Operator& find(const std::vector<Operator>& ops, std::string_view name) {
  for (const auto& op : ops)
    if (op.name == name) return op;
  FAIL("no operator " << name);
  return ops.front();
}

double activation_sum(const std::vector<Operator>& ops, bool selective) {
  double sum = 0;
  for (const auto& op : ops)
    if (!(selective && op.attention_core)) sum += op.activation_bytes.value();
  return sum;
}

ShardShape shard(std::int64_t tp, bool sp, std::int64_t b, std::int64_t s) {
  ShardShape sh;
  sh.tp = tp;
  sh.sp = sp;
  sh.micro_batch = b;
  sh.seq_length = s;
  return sh;
}

}  // namespace

TEST_CASE("GPT layer: operator order and GEMM shapes") {
  const ModelSpec m = load_model("megatron-22b");  // h 6144, a 64, ffn 24576
  const auto ops = lower_layer(m, shard(8, false, 4, 2048));
  const char* order[] = {"input_norm", "qkv",           "attn_scores", "softmax", "attn_context", "attn_proj",
                         "attn_residual", "post_attn_norm", "mlp_up",   "mlp_act", "mlp_down",     "mlp_residual"};
  REQUIRE(ops.size() == 12);
  for (std::size_t i = 0; i < 12; ++i) CHECK(ops[i].name == order[i]);
  const auto& qkv = find(ops, "qkv");  // m = b*s = 8192, k = h, n = 3h/8 = 2304
  CHECK((qkv.m == 8192 && qkv.k == 6144 && qkv.n == 2304 && qkv.batch == 1));
  CHECK(qkv.forward_flops.value() == doctest::Approx(2.0 * 8192 * 2304 * 6144));
  CHECK(qkv.backward_flops.value() == doctest::Approx(2 * qkv.forward_flops.value()));
  // A + W + C in 2-byte elements: 2*(8192*6144 + 6144*2304 + 8192*2304).
  CHECK(qkv.forward_bytes.value() == doctest::Approx(2.0 * (8192.0 * 6144 + 6144.0 * 2304 + 8192.0 * 2304)));
  const auto& scores = find(ops, "attn_scores");  // batch b*a/t = 32, 2048 x 2048 x 96
  CHECK((scores.kind == OpKind::batched_gemm && scores.batch == 32 && scores.m == 2048 && scores.n == 2048 &&
         scores.k == 96));
  const auto& context = find(ops, "attn_context");
  CHECK((context.batch == 32 && context.m == 2048 && context.n == 96 && context.k == 2048));
  const auto& proj = find(ops, "attn_proj");
  CHECK((proj.m == 8192 && proj.k == 768 && proj.n == 6144));
  CHECK((find(ops, "mlp_up").n == 3072 && find(ops, "mlp_down").k == 3072 && find(ops, "mlp_down").n == 6144));
  CHECK(find(ops, "softmax").forward_flops.value() == 0);
  // Softmax: read + write 2-byte scores, dropout reads them, writes output and a 1-byte mask: (2+2+2+2+1) * S.
  const double S = 32.0 * 2048 * 2048;
  CHECK(find(ops, "softmax").forward_bytes.value() == doctest::Approx(9 * S));
}

TEST_CASE("GPT layer forward FLOPs are 24bsh^2 + 4bs^2h (tp = 1)") {
  const ModelSpec m = load_model("gpt3-175b");
  const double b = 1, s = 2048, h = 12288;
  double sum = 0;
  for (const auto& op : lower_layer(m, shard(1, false, 1, 2048))) sum += op.forward_flops.value();
  CHECK(sum == doctest::Approx(24 * b * s * h * h + 4 * b * s * s * h).epsilon(1e-12));
}

TEST_CASE("GPT layer activation bytes reproduce Korthikanti'22 (22B: s=2048, b=4, h=6144, a=64)") {
  const ModelSpec m = load_model("megatron-22b");
  struct Case {
    std::int64_t tp;
    bool sp;
  };
  for (const Case c : {Case{1, false}, Case{8, false}, Case{8, true}, Case{4, true}, Case{2, false}}) {
    CAPTURE(c.tp);
    CAPTURE(c.sp);
    const auto ops = lower_layer(m, shard(c.tp, c.sp, 4, 2048));
    CHECK(activation_sum(ops, false) ==
          doctest::Approx(korthikanti_activation_bytes(m, 2048, 4, c.tp, c.sp, Recompute::none).value()));
    CHECK(activation_sum(ops, true) ==
          doctest::Approx(korthikanti_activation_bytes(m, 2048, 4, c.tp, c.sp, Recompute::selective).value()));
  }
  // tp = 1 by hand: sbh (34 + 5as/h) = 50,331,648 * (34 + 106.67) = 7,079,985,152 bytes.
  CHECK(activation_sum(lower_layer(m, shard(1, false, 4, 2048)), false) == doctest::Approx(7079985152.0));
  // Attention core with tp = 8: softmax 3as^2b/t + context 2as^2b/t = 5*64*2048^2*4/8 = 671,088,640.
  const auto ops = lower_layer(m, shard(8, false, 4, 2048));
  CHECK(activation_sum(ops, false) - activation_sum(ops, true) == doctest::Approx(671088640.0));
  CHECK(find(ops, "attn_scores").activation_bytes.value() == 0);
}

TEST_CASE("full recomputation keeps 2sbh per layer") {
  const ModelSpec m = load_model("megatron-22b");
  // The layer input is input_norm's kept input: 2sbh = 100,663,296 (/t with SP).
  CHECK(find(lower_layer(m, shard(8, false, 4, 2048)), "input_norm").activation_bytes.value() ==
        doctest::Approx(100663296.0));
  CHECK(find(lower_layer(m, shard(8, true, 4, 2048)), "input_norm").activation_bytes.value() ==
        doctest::Approx(100663296.0 / 8));
}

TEST_CASE("flash attention fuses the attention core") {
  const ModelSpec m = load_model("megatron-22b");
  ShardShape sh = shard(8, false, 4, 2048);
  const auto unfused = lower_layer(m, sh);
  sh.flash_attention = true;
  const auto ops = lower_layer(m, sh);
  REQUIRE(ops.size() == 10);
  const auto& fa = find(ops, "attention");
  CHECK((fa.kind == OpKind::attention && fa.attention_core));
  // A causal kernel skips the masked half of the unfused core's score and context work.
  CHECK(fa.causal);
  CHECK(fa.forward_flops.value() ==
        doctest::Approx(0.5 * (find(unfused, "attn_scores").forward_flops.value() +
                               find(unfused, "attn_context").forward_flops.value())));
  // Reads Q, K, V and writes O: 4 * 2 * 8192 * 768 bytes, plus the fp32 logsumexp 4 * 32 * 2048.
  CHECK(fa.forward_bytes.value() == doctest::Approx(4 * 2.0 * 8192 * 768 + 4.0 * 32 * 2048));
  CHECK(fa.activation_bytes.value() == doctest::Approx(4.0 * 32 * 2048));
  // No s^2 term left: the rest of the layer is the selective-recompute total 34sbh/... (tp 8: 13 sbh).
  CHECK(activation_sum(ops, true) == doctest::Approx(50331648.0 * 13));
}

TEST_CASE("GQA and SwiGLU shapes (Llama-3 70B, tp = 8)") {
  const ModelSpec m = load_model("llama3-70b");  // h 8192, 64 heads, 8 kv heads, head_dim 128, ffn 28672
  const auto ops = lower_layer(m, shard(8, true, 1, 8192));
  // n = (h + 2 h_kv)/t = (8192 + 2*1024)/8 = 1280 (vs 3072 without GQA).
  CHECK(find(ops, "qkv").n == 1280);
  CHECK(find(ops, "mlp_up").n == 2 * 28672 / 8);  // gate and up fused: 7168
  CHECK(find(ops, "mlp_down").k == 28672 / 8);
  // No dropout: residuals keep nothing; SwiGLU keeps both inputs 2*2*s*b*ffn/t.
  CHECK(find(ops, "attn_residual").activation_bytes.value() == 0);
  CHECK(find(ops, "mlp_act").activation_bytes.value() == doctest::Approx(2.0 * 2 * 8192 * 3584));
  // tp 16 > 8 kv heads: each rank keeps one (replicated) kv head: n = 4*128 + 2*128.
  CHECK(find(lower_layer(m, shard(16, true, 1, 8192)), "qkv").n == 768);
}

TEST_CASE("MoE layer routes b*s*top_k tokens to each GPU's experts") {
  const ModelSpec m = load_model("mixtral-8x7b");
  ShardShape sh = shard(2, false, 2, 4096);
  sh.ep = 4;
  const auto ops = lower_layer(m, sh);
  const auto& router = find(ops, "router");
  CHECK((router.m == 8192 && router.n == 8 && router.k == 4096));
  // Experts' tp = tp 2: each rank's 4096 tokens * 2 copies, all-gathered over 2 ranks = 16384 rows over its 2 local
  // experts: a grouped GEMM of 2 x 8192 rows, n = 2*14336/2.
  const auto& up = find(ops, "mlp_up");
  CHECK((up.m == 8192 && up.batch == 2 && up.launches == 1 && up.n == 14336 && up.k == 4096));
  CHECK(up.forward_flops.value() == doctest::Approx(2.0 * 16384 * 14336 * 4096));
  // Both local experts' weights are read: 2 * 2 * (4096 * 14336 + 8192 * 4096 + 8192 * 14336).
  CHECK(up.forward_bytes.value() == doctest::Approx(2.0 * 2 * (4096.0 * 14336 + 8192.0 * 4096 + 8192.0 * 14336)));
  CHECK(up.activation_bytes.value() == doctest::Approx(2.0 * 16384 * 4096));  // the received copies
  CHECK(find(ops, "qkv").n == (4096 + 2 * 1024) / 2);  // attention unchanged
}

TEST_CASE("MoE: experts' TP splits the expert GEMMs etp ways, not tp; the per-expert rows follow") {
  const ModelSpec m = load_model("mixtral-8x7b");
  ShardShape sh = shard(2, true, 1, 4096);  // tp 2 with SP: each rank routes 2048 tokens
  sh.ep = 8;
  sh.etp = 1;
  const auto ops = lower_layer(m, sh);
  // One local expert, whole (n = 2 * 14336): the rank's 2048 tokens * 2 copies = 4096 rows (balanced routing).
  const auto& up = find(ops, "mlp_up");
  CHECK((up.m == 4096 && up.batch == 1 && up.n == 2 * 14336 && up.k == 4096));
  CHECK(find(ops, "mlp_down").k == 14336);
  // The same FLOPs per rank as experts split tp ways: 4096 rows * full columns = 8192 rows * half.
  sh.etp = 2;
  const auto split_ops = lower_layer(m, sh);
  const auto& split = find(split_ops, "mlp_up");
  CHECK((split.m == 8192 && split.n == 14336));
  CHECK(split.forward_flops.value() == doctest::Approx(up.forward_flops.value()));
}

TEST_CASE("MoE: permutation and unpermutation move the routed rows (memory-bound); the load factor scales rows") {
  const ModelSpec m = load_model("mixtral-8x7b");
  ShardShape sh = shard(2, true, 1, 4096);
  sh.ep = 8;
  sh.etp = 1;
  const auto ops = lower_layer(m, sh);
  // 2048 source tokens, 4096 copies, h 4096, 2 bytes: read the tokens and write the copies, plus fp32 probs and
  // int32 indices per copy.
  const double tokens = 2048, copies = 4096, h = 4096;
  const auto& permute = find(ops, "moe_permute");
  CHECK(permute.kind == OpKind::elementwise);
  CHECK(permute.forward_bytes.value() == doctest::Approx(2.0 * h * (tokens + copies) + 8.0 * copies));
  const auto& unpermute = find(ops, "moe_unpermute");
  // Keeps the expert outputs for the probabilities' gradient.
  CHECK(unpermute.activation_bytes.value() == doctest::Approx(2.0 * h * copies));
  CHECK(unpermute.backward_bytes.value() == doctest::Approx(2.0 * h * (tokens + 2 * copies) + 8.0 * copies));
  // A 1.25 load (capacity padding, or imbalance) on the slowest rank: 5120 rows per expert.
  sh.moe_load = 1.25;
  CHECK(find(lower_layer(m, sh), "mlp_up").m == 5120);
}

TEST_CASE("MoE: without grouped GEMM each local expert is its own kernel") {
  const ModelSpec m = load_model("mixtral-8x7b");
  ShardShape sh = shard(1, false, 1, 4096);
  sh.ep = 2;
  sh.grouped_gemm = false;
  const auto one_by_one = lower_layer(m, sh);
  const auto& up = find(one_by_one, "mlp_up");
  CHECK((up.batch == 4 && up.launches == 4 && up.m == 2048));  // 4096 * 2 copies * 2 (ep) / 8 experts
  CHECK(find(lower_layer(m, sh), "moe_sort").forward_bytes.value() == doctest::Approx(4.0 * 2 * 4096 * 8192));
}

TEST_CASE("context parallel: each rank's queries attend to the full sequence") {
  const ModelSpec m = load_model("llama3-8b");
  ShardShape sh = shard(1, false, 1, 8192);
  sh.cp = 4;
  const auto ops = lower_layer(m, sh);
  const auto& scores = find(ops, "attn_scores");
  CHECK((scores.m == 2048 && scores.n == 8192 && scores.batch == 32));
  CHECK(find(lower_layer(m, sh), "qkv").m == 2048);
}

TEST_CASE("embedding and LM head") {
  const ModelSpec m = load_model("gpt3-175b");
  const auto emb = lower_embedding(m, shard(8, false, 1, 2048));
  REQUIRE(emb.size() == 1);
  // Token rows read + written, position rows read: 3 * 2 * 2048 * 12288; dropout (2+2+1) * 2048 * 12288.
  CHECK(emb[0].forward_bytes.value() == doctest::Approx((6.0 + 5.0) * 2048 * 12288));
  CHECK(emb[0].activation_bytes.value() == doctest::Approx(2048.0 * 12288));
  const auto head = lower_lm_head(m, shard(8, false, 1, 2048));
  REQUIRE(head.size() == 3);
  CHECK(head[0].name == "final_norm");
  CHECK((head[1].name == "lm_head" && head[1].m == 2048 && head[1].k == 12288 && head[1].n == 6400));
  CHECK(head[1].forward_flops.value() == doctest::Approx(2.0 * 2048 * 12288 * 6400));
  // fp32 logits read and written once: 8 * 2048 * 6400.
  CHECK((head[2].name == "cross_entropy" && head[2].forward_bytes.value() == doctest::Approx(8.0 * 2048 * 6400)));
}

TEST_CASE("GPT layer: FP32 vector flops of the element-wise operators (hand-computed, megatron-22b, tp 8, b 4)") {
  const ModelSpec m = load_model("megatron-22b");  // h 6144, a 64 (8 per GPU), ffn 24576 (3072 per GPU), dropout
  const auto ops = lower_layer(m, shard(8, false, 4, 2048));
  const double tokens = 4.0 * 2048;               // 8192
  const double hidden = tokens * 6144;            // 50,331,648 elements
  const double ffn = tokens * 3072;               // 25,165,824 elements
  const double scores = 4.0 * 8 * 2048 * 2048;    // 134,217,728 scores
  // LayerNorm: 8 forward, 16 backward per element.
  CHECK(find(ops, "input_norm").forward_vector_flops.value() == doctest::Approx(8 * hidden));
  CHECK(find(ops, "input_norm").backward_vector_flops.value() == doctest::Approx(16 * hidden));
  // GELU (tanh): 8 + one tanh (16) forward, 18 + 16 backward.
  CHECK(find(ops, "mlp_act").forward_vector_flops.value() == doctest::Approx(24 * ffn));
  CHECK(find(ops, "mlp_act").backward_vector_flops.value() == doctest::Approx(34 * ffn));
  // Causal softmax: half the scores at 5 + one exp (16), then dropout 2; backward 5 + dropout 1.
  CHECK(find(ops, "softmax").forward_vector_flops.value() == doctest::Approx((0.5 * 21 + 2) * scores));
  CHECK(find(ops, "softmax").backward_vector_flops.value() == doctest::Approx(6 * scores));
  // Dropout (2) + residual add (1); backward: dropout's multiply (1).
  CHECK(find(ops, "attn_residual").forward_vector_flops.value() == doctest::Approx(3 * hidden));
  CHECK(find(ops, "attn_residual").backward_vector_flops.value() == doctest::Approx(1 * hidden));
  // GEMMs have no vector flops; element-wise ops no tensor-core flops.
  CHECK(find(ops, "qkv").forward_vector_flops.value() == 0);
  CHECK(find(ops, "mlp_act").forward_flops.value() == 0);
}

TEST_CASE("rotary positions: one element-wise op on this rank's Q and K (hand-computed, Llama-3 70B, tp 8)") {
  const ModelSpec m = load_model("llama3-70b");  // 64 heads, 8 kv heads, head_dim 128, bf16
  const auto ops = lower_layer(m, shard(8, true, 1, 8192));
  // Q and K of this rank: 8192 tokens x (8 + 1) heads x 128 = 9,437,184 elements, read and written (2 bytes each)
  // both ways; 3 flops per element (two multiplies and an add of the rotation).
  const double n = 8192.0 * 9 * 128;
  const auto& rope = find(ops, "rope");
  CHECK(rope.kind == OpKind::elementwise);
  CHECK(rope.forward_bytes.value() == doctest::Approx(2 * 2 * n));
  CHECK(rope.backward_bytes.value() == doctest::Approx(2 * 2 * n));
  CHECK(rope.forward_vector_flops.value() == doctest::Approx(3 * n));
  CHECK(rope.activation_bytes.value() == 0);
  // It comes right after the QKV GEMM; learned positions (GPT) have none.
  for (std::size_t i = 0; i + 1 < ops.size(); ++i)
    if (ops[i].name == "qkv") CHECK(ops[i + 1].name == "rope");
  for (const auto& op : lower_layer(load_model("megatron-22b"), shard(8, false, 4, 2048))) CHECK(op.name != "rope");
}

TEST_CASE("element-wise operators name their kernel (a calibrated machine's vector_table rate applies)") {
  using hpsim::core::VectorKernel;
  const auto gpt = lower_layer(load_model("megatron-22b"), shard(8, false, 4, 2048));
  CHECK(find(gpt, "input_norm").vector_kernel == VectorKernel::layernorm);
  CHECK(find(gpt, "mlp_act").vector_kernel == VectorKernel::gelu);
  CHECK(find(gpt, "softmax").vector_kernel == VectorKernel::softmax);
  CHECK(find(gpt, "attn_residual").vector_kernel == VectorKernel::generic);
  const auto llama = lower_layer(load_model("llama3-70b"), shard(8, true, 1, 8192));
  CHECK(find(llama, "post_attn_norm").vector_kernel == VectorKernel::rmsnorm);
  CHECK(find(llama, "mlp_act").vector_kernel == VectorKernel::swiglu);
  CHECK(find(llama, "rope").vector_kernel == VectorKernel::generic);
}
