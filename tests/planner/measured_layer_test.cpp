// A Llama 3 8B decoder layer as torchtitan writes it, timed forward + backward on one H200 SXM under its 700 W limit
// (bench/device/measure_llama_layer.py; profile bench/device/h200-sxm_llama3-8b-layer_2026-12-04.json): batch 2,
// sequence 8192, BF16, FlashAttention-2 through SDPA, no recomputation, eager and under torch.compile. hpsim's layer
// model (the h200-sxm preset, framework fsdp: eager element-wise chains, or fused ones with execution fused) costs
// the same operators from published kernel rates; nothing in the presets was fitted to this measurement.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "models/model_spec.hpp"
#include "planner/cost_cache.hpp"
#include "planner/framework.hpp"
#include "planner/plan.hpp"
#include "topologies/cluster_spec.hpp"

#include "../measured_profile.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

/// hpsim's forward + backward time of one Llama 3 8B layer as a profile's runs measured it.
double predicted_layer_s(const nlohmann::json& profile, const std::string& execution) {
  const auto model = models::load_model("llama3-8b");
  const auto cluster = topologies::load_cluster("dgx-h200:1");
  REQUIRE(profile.at("model").at("hidden_size") == model.hidden_size);
  REQUIRE(profile.at("model").at("intermediate_size") == model.ffn_hidden_size);
  Plan p;
  p.tp = profile.at("model").value("tp", 1), p.sp = false;  // one TP rank's shard, every token through it
  p.dp = 8 / p.tp, p.micro_batch_size = profile.at("model").at("batch");
  p.global_batch_size = p.dp * p.micro_batch_size;
  p.seq_length = profile.at("model").at("seq_length");
  p.framework = Framework::fsdp, p.zero = 3, p.recompute = models::Recompute::none;
  p.precision = profile.at("precision") == "fp8" ? topologies::Precision::fp8 : topologies::Precision::bf16;
  p.execution = execution == "eager" ? costs::Execution::eager : costs::Execution::fused;
  apply_framework_defaults(p, [](PlanKey key) { return key == PlanKey::execution; });
  const Plan plan = resolve_plan(p, model, cluster, "test");
  REQUIRE(plan.attention_backend == costs::AttentionKernel::flash2);  // PyTorch SDPA's flash backend
  CostCache cache(Scenario(model, cluster));
  const OpsCost layer = cache.ops(OpsPart::layer, plan);
  return (layer.forward + layer.backward).value();
}

/// The profile's run under `execution` (eager or fused).
const nlohmann::json& run_of(const nlohmann::json& profile, const std::string& execution) {
  const auto& runs = profile.at("runs");
  const auto run =
      std::find_if(runs.begin(), runs.end(), [&](const auto& r) { return r.at("execution") == execution; });
  REQUIRE(run != runs.end());
  return *run;
}

}  // namespace

TEST_CASE("layer cost: a torchtitan Llama 3 8B layer, eager and compiled, against its time measured on an H200") {
  const auto profile = hpsim_test::measured_profile("h200-sxm_llama3-8b-layer_2026-12-04.json", "NVIDIA H200");
  std::size_t compared = 0;
  for (const auto& run : profile.at("runs")) {
    const std::string execution = run.at("execution");
    const double predicted = predicted_layer_s(profile, execution);
    const double measured = run.at("layer_forward_backward_s");
    CAPTURE(execution);
    MESSAGE(execution << ": predicted " << predicted * 1e3 << " ms, measured " << measured * 1e3 << " ms");
    // Today: eager 53.8 against 53.9 ms, compiled 49.0 against 48.2 ms.
    CHECK(predicted / measured == doctest::Approx(1).epsilon(0.05));
    ++compared;
  }
  CHECK(compared == 2);
}

TEST_CASE("layer cost: the same layer's linears in FP8 (tensorwise), compiled, against its measured time") {
  // The seven linears cast per tensor to E4M3 (amax, cast, transposed copies) and multiply through cuBLASLt, the
  // weights cast at every forward; torch.compile fuses the casts. hpsim is slower than the measurement: its FP8 GEMM
  // rates sit 5-15 % below the cuBLASLt rates measured on the same H200 (tests/costs/measured_h200_test.cpp). The
  // eager run's casts are chains of separate PyTorch ops (59.4 ms, slower than BF16), which hpsim costs as fused
  // kernels: not compared.
  const auto profile = hpsim_test::measured_profile("h200-sxm_llama3-8b-layer-fp8_2026-12-04.json", "NVIDIA H200");
  REQUIRE(profile.at("precision") == "fp8");
  const double predicted = predicted_layer_s(profile, "fused");
  const double measured = run_of(profile, "fused").at("layer_forward_backward_s");
  MESSAGE("fp8 compiled: predicted " << predicted * 1e3 << " ms, measured " << measured * 1e3 << " ms");
  // Today: 37.7 against 34.9 ms (+8 %).
  CHECK(predicted / measured > 1.0);
  CHECK(predicted / measured < 1.10);
}

TEST_CASE("layer cost: one tp-8 rank's shard of the layer (12 sequences, eager) against its measured time") {
  // Heads, KV heads and MLP columns divided by 8, all 98,304 tokens through the shard, no communication: the compute
  // of the torchtitan 8B tp-8 runs (their SP shards the norms, which this leaves whole, as hpsim does with sp off).
  // hpsim is faster than the measurement: the shard's narrow GEMMs (wk and wv 128 columns, wo a 512-deep reduction)
  // run worse than its curve says. The compiled run failed in the compiler (recorded in the profile): not compared.
  const auto profile = hpsim_test::measured_profile("h200-sxm_llama3-8b-layer-tp8_2026-12-04.json", "NVIDIA H200");
  REQUIRE(profile.at("model").at("tp") == 8);
  const double predicted = predicted_layer_s(profile, "eager");
  const double measured = run_of(profile, "eager").at("layer_forward_backward_s");
  MESSAGE("tp-8 shard, eager: predicted " << predicted * 1e3 << " ms, measured " << measured * 1e3 << " ms");
  // Today: 63.9 against 70.0 ms (-9 %).
  CHECK(predicted / measured > 0.85);
  CHECK(predicted / measured < 1.0);
}
