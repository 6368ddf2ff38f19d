// The H200 preset's GEMM rates against cuBLAS measured on one H200 SXM (bench/device/measure_hopper.py, its profile
// bench/device/h200-sxm_2026-12-04.json): BF16 through torch.matmul and FP8 E4M3 with one scale per tensor through
// torch._scaled_mm, random operands, each shape run back to back for 0.4 s under the board's 700 W limit (the SM
// clock sampled meanwhile: 1260-1600 MHz, lower for FP8 than for BF16). The preset's rates are in-training rates
// built from published figures, not from this measurement, so the two agree only as far as the model holds.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "costs/compute_cost.hpp"
#include "topologies/cluster_spec.hpp"

#include "../measured_profile.hpp"

using namespace hpsim;

TEST_CASE("compute cost: the H200 preset's GEMM rates against cuBLAS measured on an H200, by shape and precision") {
  const auto profile = hpsim_test::measured_profile("h200-sxm_2026-12-04.json", "NVIDIA H200");
  const auto gpu = topologies::load_gpu("h200-sxm");
  for (const char* name : {"bf16", "fp8"}) {
    const auto precision = std::string(name) == "bf16" ? topologies::Precision::bf16 : topologies::Precision::fp8;
    const costs::ComputeCost cost(gpu, precision);
    std::vector<double> misfits;  // |log(predicted / measured)|
    for (const auto& g : profile.at("gemm")) {
      if (g.at("precision") != name) continue;
      const std::int64_t m = g.at("m"), n = g.at("n"), k = g.at("k");
      // Up to 2048^3 a launch is too short for its rate to be the kernel's (1024^3, 2048^3).
      if (static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) <= 2048.0 * 2048.0 * 2048.0)
        continue;
      const double predicted = 2.0 * static_cast<double>(m * n) * static_cast<double>(k) /
                               cost.gemm_time(m, n, k, 1, core::Bytes(0)).value() / 1e12;
      const double ratio = predicted / g.at("tflop_per_s").get<double>();
      CAPTURE(m);
      CAPTURE(n);
      CAPTURE(k);
      CAPTURE(name);
      // The curve's worst: shallow reductions (k 256-1024), whose low power lets the clock rise, and n = 1280, whose
      // 128 x 256 tiles leave a third of the last wave empty where cuBLAS picks another tile.
      CHECK(ratio > 0.74);
      CHECK(ratio < 1.10);
      misfits.push_back(std::abs(std::log(ratio)));
    }
    REQUIRE(misfits.size() >= 15);
    std::nth_element(misfits.begin(), misfits.begin() + misfits.size() / 2, misfits.end());
    const double median = misfits[misfits.size() / 2];
    MESSAGE(std::string(name) << ": median |log(predicted / measured)| " << median << " over " << misfits.size()
                              << " shapes");
    // Today: BF16 0.020 (the curve within 2 % on large shapes), FP8 0.069 (its shallow and mid-depth shapes 5-15 %
    // slow: FP8 reaches more of its rate than the published sweeps say, at a lower clock).
    CHECK(median < (precision == topologies::Precision::bf16 ? 0.03 : 0.075));
  }
}

TEST_CASE("compute cost: the published fused-attention rates of the Hopper presets against an H200's, by length") {
  // Causal, head dim 128, BF16, through PyTorch's FlashAttention-2 and cuDNN backends. The profile times the forward
  // alone and forward + backward together; the backward's rate is what remains: 2.5 F over (3.5 F / rate(f+b) -
  // F / rate(f)). The presets' tables are published H100 figures (before the in-training fraction).
  const auto profile = hpsim_test::measured_profile("h200-sxm_2026-12-04.json", "NVIDIA H200");
  const auto gpu = topologies::load_gpu("h200-sxm");
  std::size_t compared = 0;
  for (const auto& [name, kernel] : {std::pair{"cudnn", costs::AttentionKernel::cudnn},
                                     std::pair{"flash2", costs::AttentionKernel::flash2}}) {
    costs::KernelChoice choice;
    choice.attention = kernel;
    const costs::ComputeCost cost(gpu, choice);
    for (const auto& f : profile.at("attention")) {
      if (f.at("kernel") != name || f.at("pass") != "forward" || !f.contains("tflop_per_s")) continue;
      const std::int64_t seq = f.at("seq");
      if (seq < 2048) continue;  // shorter calls are too brief for a sustained rate
      const auto& rows = profile.at("attention");
      const auto both = std::find_if(rows.begin(), rows.end(), [&](const auto& b) {
        return b.at("kernel") == name && b.at("seq") == seq && b.at("pass") == "forward+backward";
      });
      REQUIRE(both != rows.end());
      const double forward = f.at("tflop_per_s");
      const double backward = 2.5 / (3.5 / both->at("tflop_per_s").get<double>() - 1.0 / forward);
      CAPTURE(name);
      CAPTURE(seq);
      CHECK(cost.attention_rate(128, seq, true, false)->value() / 1e12 / forward == doctest::Approx(1).epsilon(0.1));
      CHECK(cost.attention_rate(128, seq, true, true)->value() / 1e12 / backward == doctest::Approx(1).epsilon(0.1));
      ++compared;
    }
  }
  CHECK(compared == 8);
}
