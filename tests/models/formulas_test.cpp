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
    if (m.mlp != MlpKind::gelu) continue;
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
