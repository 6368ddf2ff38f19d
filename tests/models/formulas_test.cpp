#include <doctest/doctest.h>

#include <cmath>

#include "models/formulas.hpp"
#include "models/model_spec.hpp"

using namespace hpsim::models;

namespace {
double rel(double got, double want) { return (got - want) / want; }
}  // namespace

TEST_CASE("parameters: GPT-3 175B matches Megatron's 12lh^2(1 + 13/(12h) + (V+s)/(12lh))") {
  const ModelSpec m = load_model("gpt3-175b");
  // Per layer 12h^2 + 13h = 12*12288^2 + 13*12288 = 1,812,099,072; x96 = 173,961,510,912.
  CHECK(layer_parameters(m) == 12 * 12288LL * 12288 + 13 * 12288);
  // Embeddings (51200 + 2048) * 12288 = 654,311,424; tied LM head; final LayerNorm 2h = 24,576.
  CHECK(embedding_parameters(m) == (51200LL + 2048) * 12288);
  CHECK(lm_head_parameters(m) == 0);
  // Total 174,615,846,912; Megatron's closed form (no final norm) gives 174,615,822,336.
  CHECK(total_parameters(m) == 174'615'846'912LL);
  CHECK(std::abs(rel(double(total_parameters(m)), 174.6e9)) < 1e-3);
  CHECK(active_parameters(m) == total_parameters(m));
}

TEST_CASE("parameters: LLaMA and Mixtral match the model cards within 0.1 %") {
  // Llama-3 8B: layer 4096*(4096+2*1024) + 4096^2 + 3*4096*14336 + 2*4096 = 218,112,000; x32 = 6,979,584,000;
  // embeddings and untied head 2*128256*4096 = 1,050,673,152; final norm 4096 -> 8,030,261,248.
  CHECK(total_parameters(load_model("llama3-8b")) == 8'030'261'248LL);
  CHECK(std::abs(rel(double(total_parameters(load_model("llama3-70b"))), 70.6e9)) < 1e-3);    // 70,553,706,496
  CHECK(std::abs(rel(double(total_parameters(load_model("llama3-405b"))), 405.8e9)) < 1e-3);  // 405,853,388,800
  CHECK(std::abs(rel(double(total_parameters(load_model("llama2-7b"))), 6.74e9)) < 1e-3);     // 6,738,415,616
  CHECK(std::abs(rel(double(total_parameters(load_model("llama2-13b"))), 13.016e9)) < 1e-3);  // 13,015,864,320
  CHECK(std::abs(rel(double(total_parameters(load_model("llama2-70b"))), 68.98e9)) < 1e-3);   // 68,976,648,192
  // Mixtral 8x7B: layer = attention 41,943,040 + router 32,768 + 8 experts * 176,160,768 + norms 8,192
  // = 1,451,270,144; x32 + 262,144,000 + 4,096 = 46,702,792,704 total; 2 experts: 12,879,925,248 active.
  const ModelSpec mixtral = load_model("mixtral-8x7b");
  CHECK(total_parameters(mixtral) == 46'702'792'704LL);
  CHECK(active_parameters(mixtral) == 12'879'925'248LL);
}

TEST_CASE("parameters: DeepSeek-V3 (MLA, shared experts, first 3 layers dense) is 671B total, 37B activated") {
  const ModelSpec m = load_model("deepseek-v3");
  // MLA per layer: q 7168*1536 + 1536 (norm) + 1536*128*192 = 48,760,320; kv 7168*(512+64) + 512 (norm) +
  // 512*128*(128+128) = 20,906,496; output 128*128*7168 = 117,440,512: 187,107,328.
  // Dense layer: + 3*7168*18432 + 2*7168 = 583,483,392.
  CHECK(layer_parameters(m, LayerKind::leading_dense) == 583'483'392LL);
  // MoE layer: + router 7168*256 + 256 routed and 1 shared expert of 3*7168*2048 + 2*7168 = 11,507,286,016.
  CHECK(layer_parameters(m) == 11'507'286'016LL);
  // 3 dense + 58 MoE layers + embedding and head 2*129280*7168 + final norm 7168 = 671,026,404,352 (the report's
  // 671B leaves out the 14B multi-token-prediction module).
  CHECK(total_parameters(m) == 671'026'404'352LL);
  CHECK(std::abs(rel(double(total_parameters(m)), 671e9)) < 1e-3);
  // Activated: 8 routed + 1 shared expert: 37,552,282,624; "37B" is rounded (within 2 %).
  CHECK(active_parameters(m) == 37'552'282'624LL);
  CHECK(std::abs(rel(double(active_parameters(m)), 37e9)) < 0.02);
}

TEST_CASE("parameters: today's presets match their model cards (head_dim, GeGLU, squared ReLU, BERT)") {
  struct Card {
    const char* name;
    double total, active, tolerance;  // published figures (0: none published), relative tolerance of their rounding
  };
  // Qwen3-8B 8.2B (36 * 192,946,176 + 2*151936*4096 + 4096 = 8,190,726,144); Qwen3-235B-A22B 235B / 22B
  // (235,093,610,496 / 22,190,739,456); Mixtral 8x22B 141B / 39B (140,620,634,112 / 39,152,031,744); Grok-1 314B
  // (315,684,034,560: tied output, GeGLU experts); Nemotron-4 15.7B = 3.2B + 12.5B (15,628,775,424); Nemotron-4
  // 340B = 9.4B + 331.6B (341,029,195,776); BERT-large 336M (HF card; the paper's "340M"; 335,174,458 with the MLM
  // head) and BERT-base 110M (109,514,298).
  for (const Card c : {Card{"qwen3-8b", 8.2e9, 0, 0.01}, Card{"qwen3-235b-a22b", 235e9, 22e9, 0.01},
                       Card{"mixtral-8x22b", 141e9, 39e9, 0.01}, Card{"grok-1", 314e9, 0, 0.01},
                       Card{"nemotron4-15b", 15.7e9, 0, 0.01}, Card{"nemotron4-340b", 340e9, 0, 0.01},
                       Card{"bert-large", 336e6, 0, 0.01}, Card{"bert-base", 110e6, 0, 0.01}}) {
    CAPTURE(c.name);
    const ModelSpec m = load_model(c.name);
    CHECK(std::abs(rel(double(total_parameters(m)), c.total)) < c.tolerance);
    if (c.active > 0) CHECK(std::abs(rel(double(active_parameters(m)), c.active)) < c.tolerance);
  }
  CHECK(total_parameters(load_model("qwen3-8b")) == 8'190'726'144LL);
  CHECK(total_parameters(load_model("bert-large")) == 335'174'458LL);
  // Nemotron-4's reports split embedding and non-embedding parameters: 12.5B + 3.2B (15B), 331.6B + 9.4B (340B).
  const ModelSpec n15 = load_model("nemotron4-15b"), n340 = load_model("nemotron4-340b");
  CHECK(std::abs(rel(double(n15.num_layers * layer_parameters(n15)), 12.5e9)) < 0.01);  // 12,483,035,136
  CHECK(std::abs(rel(double(embedding_parameters(n15) + lm_head_parameters(n15)), 3.2e9)) < 0.02);  // 3.146e9
  CHECK(std::abs(rel(double(n340.num_layers * layer_parameters(n340)), 331.6e9)) < 0.001);          // 331.59e9
  CHECK(std::abs(rel(double(embedding_parameters(n340) + lm_head_parameters(n340)), 9.4e9)) < 0.01);  // 9.437e9
}

TEST_CASE("parameters: BERT-base by hand (token + position + token-type embeddings, post-LN, MLM head)") {
  const ModelSpec m = load_model("bert-base");
  // Embeddings (30522 + 512 + 2) * 768 = 23,835,648; layer 4*(768^2 + 768) + 2*768*3072 + 3072 + 768 + 2*2*768
  // = 7,087,872; MLM head dense 768^2 + 768, LayerNorm 2*768, decoder bias 30522 (decoder tied) = 622,650;
  // the embedding LayerNorm 2*768 in the place of a decoder's final norm.
  CHECK(embedding_parameters(m) == 23'835'648LL);
  CHECK(layer_parameters(m) == 7'087'872LL);
  CHECK(lm_head_parameters(m) == 622'650LL);
  CHECK(total_parameters(m) == 23'835'648LL + 12 * 7'087'872LL + 622'650LL + 2 * 768);
}

TEST_CASE("Narayanan Eq. 3 for GPT-3 175B, B = 1536, s = 2048") {
  const ModelSpec m = load_model("gpt3-175b");
  const double B = 1536, s = 2048, l = 96, h = 12288, V = 51200;
  // 72*B*s*l*h^2*(1 + s/6h + V/12lh) = 3.3862e18; with full recomputation 96*...(1 + s/6h + V/16lh) = 4.5110e18.
  CHECK(megatron_step_flops(m, 1536, 2048, false).value() ==
        doctest::Approx(72 * B * s * l * h * h * (1 + s / (6 * h) + V / (12 * l * h))).epsilon(1e-12));
  CHECK(megatron_step_flops(m, 1536, 2048, false).value() == doctest::Approx(3.3861967e18).epsilon(1e-7));
  CHECK(megatron_step_flops(m, 1536, 2048, true).value() ==
        doctest::Approx(96 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h))).epsilon(1e-12));
  CHECK(megatron_step_flops(m, 1536, 2048, true).value() == doctest::Approx(4.5109708e18).epsilon(1e-7));
}

TEST_CASE("model_step_flops equals Eq. 3 for every GPT preset") {
  for (const auto& m : model_presets()) {
    if (m.mlp != MlpKind::gelu || m.encoder) continue;  // Eq. 3 has no MLM transform
    CAPTURE(m.name);
    CHECK(model_step_flops(m, 512, m.seq_length).value() ==
          doctest::Approx(megatron_step_flops(m, 512, m.seq_length, false).value()).epsilon(1e-12));
  }
}

TEST_CASE("model_step_flops for MoE counts only the routed experts") {
  const ModelSpec m = load_model("mixtral-8x7b");
  const double s = 4096, h = 4096, f = 14336, kv = 1024, V = 32000, l = 32;
  // Per token and layer: qkv 2h(h+2kv), proj 2h^2, router 2*8h, 2 experts of SwiGLU 2*3hf, attention 4sh.
  const double layer = 2 * h * (h + 2 * kv) + 2 * h * h + 2 * 8 * h + 2 * 6 * h * f + 4 * s * h;
  const double forward = s * (l * layer + 2 * h * V);
  CHECK(model_step_flops(m, 1, 4096).value() == doctest::Approx(3 * forward).epsilon(1e-12));
}

TEST_CASE("Korthikanti closed forms (22B: s=2048, b=4, h=6144, a=64)") {
  const ModelSpec m = load_model("megatron-22b");
  // sbh = 50,331,648; 5as/h = 106.67.
  CHECK(korthikanti_activation_bytes(m, 2048, 4, 1, false, Recompute::none).value() ==
        doctest::Approx(50331648.0 * (34 + 5 * 64 * 2048.0 / 6144)));  // 7,079,985,152
  CHECK(korthikanti_activation_bytes(m, 2048, 4, 8, false, Recompute::none).value() ==
        doctest::Approx(1325400064.0));  // sbh (10 + 24/8 + 5as/(8h))
  CHECK(korthikanti_activation_bytes(m, 2048, 4, 8, true, Recompute::none).value() ==
        doctest::Approx(884998144.0));  // sbh/8 (34 + 5as/h)
  CHECK(korthikanti_activation_bytes(m, 2048, 4, 8, true, Recompute::selective).value() ==
        doctest::Approx(50331648.0 / 8 * 34));
  CHECK(korthikanti_activation_bytes(m, 2048, 4, 1, false, Recompute::full).value() == doctest::Approx(100663296.0));
  CHECK(korthikanti_activation_bytes(m, 2048, 4, 8, true, Recompute::full).value() ==
        doctest::Approx(100663296.0 / 8));
}
