// Operator times against references computed outside the code: closed forms worked by hand from the GPUs' published
// figures (A100 SXM: 312 TFLOP/s dense FP16/BF16, 2,039 GB/s HBM2e, 108 SMs, 19.5 TFLOP/s FP32; H100 SXM: 3,350
// GB/s) and the presets' stated efficiencies (76 % of the tensor peak, half efficiency at k = 64, 128 x 256 tiles,
// 70 % of HBM bandwidth, 4 us per kernel), and a brute-force count of tiles and waves.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "costs/compute_cost.hpp"
#include "models/operators.hpp"

using namespace hpsim;
using topologies::Precision;

namespace {

/// Fraction of the SM-tile slots paid for that do useful work, counted tile by tile: each 128 x 256 output tile
/// covers what of the m x n output lies under it, and tiles go to the 108 SMs in rounds.
double brute_force_quantization(std::int64_t m, std::int64_t n, std::int64_t sms = 108) {
  double useful = 0;
  std::int64_t tiles = 0;
  for (std::int64_t row = 0; row < m; row += 128)
    for (std::int64_t col = 0; col < n; col += 256) {
      ++tiles;
      useful += static_cast<double>(std::min<std::int64_t>(128, m - row) * std::min<std::int64_t>(256, n - col));
    }
  std::int64_t rounds = 0;
  for (std::int64_t left = tiles; left > 0; left -= sms) ++rounds;
  return useful / static_cast<double>(rounds * sms * 128 * 256);
}

}  // namespace

TEST_CASE("compute cost: a GEMM filling one whole wave of tiles on A100, worked by hand") {
  const costs::ComputeCost cost(topologies::load_gpu("a100-80gb"), Precision::fp16);
  // m = 128 * 108 = 13,824, n = 256: exactly one tile per SM. k = 4,096: depth 4096 / (4096 + 64) = 0.98462, so the
  // efficiency is 0.76 * 0.98462 = 0.74831 (233.47 TFLOP/s). FLOPs 2 * 13824 * 256 * 4096 = 2.8991e10:
  // 2.8991e10 / 233.47e12 = 124.17 us, plus 4 us for the kernel = 128.17 us.
  CHECK(cost.gemm_efficiency(13824, 256, 4096, 1) == doctest::Approx(0.748308).epsilon(1e-5));
  CHECK(cost.gemm_time(13824, 256, 4096, 1, core::Bytes(0)).value() == doctest::Approx(128.173e-6).epsilon(1e-4));
}

TEST_CASE("compute cost: a large square GEMM on A100 reaches about 235 TFLOP/s, as cuBLAS does under the power cap") {
  const costs::ComputeCost cost(topologies::load_gpu("a100-80gb"), Precision::bf16);
  // 8192^3: 64 x 32 = 2,048 tiles in 19 waves of 108 (2,052 slots): 0.99805; depth 8192 / 8256 = 0.99225;
  // 0.76 * 0.99805 * 0.99225 = 0.75264 -> 234.8 TFLOP/s; 2 * 8192^3 = 1.0995e12 FLOPs -> 4.682 ms + 4 us.
  const double t = cost.gemm_time(8192, 8192, 8192, 1, core::Bytes(0)).value();
  CHECK(t == doctest::Approx(4.6863e-3).epsilon(1e-4));
  const double achieved_tflops = 2.0 * 8192.0 * 8192.0 * 8192.0 / t / 1e12;
  CHECK(achieved_tflops > 220);  // published cuBLAS BF16 rates on A100 SXM at sustained clocks: about 235-245
  CHECK(achieved_tflops < 250);
}

TEST_CASE("compute cost: FP8 needs twice BF16's reduction depth for half its efficiency (the per-tile cost is fixed)") {
  // H100: 16-bit k_half 245 at the 1830 MHz peak clock; FP8's peak is 1979 against BF16's 989, so FP8's depth is
  // 245 * 1979 / 989 = 490.2. One tile per SM (m = 128 * 132, n = 256), k = 490: BF16 depth 490 / (490 + 245) = 2/3,
  // FP8 depth 490 / 980.2 (about 1/2), each times its own peak fraction (0.803 and 0.709) and the in-training fraction
  // 0.88506.
  const auto h100 = topologies::load_gpu("h100-sxm");
  const costs::ComputeCost bf16(h100, Precision::bf16), fp8(h100, Precision::fp8);
  CHECK(bf16.gemm_efficiency(128 * 132, 256, 490, 1) == doctest::Approx(0.803 * 0.88506 * 2.0 / 3.0).epsilon(1e-6));
  CHECK(fp8.gemm_efficiency(128 * 132, 256, 490, 1) ==
        doctest::Approx(0.709 * 0.88506 * 490.0 / (490.0 + 245.0 * 1979.0 / 989.0)).epsilon(1e-6));
  // Under a 500 W cap the tensor clock falls to 1342 MHz: the multiply-adds slow down, the per-tile cost does not,
  // so half efficiency comes at 245 * 1342 / 1830 = 179.7 (BF16).
  const costs::ComputeCost capped(topologies::load_gpu("h100-sxm-500w"), Precision::bf16);
  CHECK(capped.gemm_efficiency(128 * 132, 256, 490, 1) ==
        doctest::Approx(0.803 * 0.88506 * 490.0 / (490.0 + 245.0 * 1342.0 / 1830.0)).epsilon(1e-6));
}

TEST_CASE("compute cost: the 500 W H100 runs Meta's published BF16 and FP8 GEMMs at their measured rates") {
  // pytorch/FBGEMM PR #2546 (../shared/design/REFERENCE-HOPPER.md 1b, 1c), H100 SXM capped at 500 W, TFLOP/s of the
  // GEMM alone: BF16 585 / 575 / 546 and row-wise FP8 1126 / 1083 / 1141 at 8192^3, (65536, 8192, 7168) and
  // (65536, 3584, 8192). hpsim's rate inside a step keeps in_training_fraction of the isolated one.
  struct Shape {
    std::int64_t m, n, k;
    double bf16, fp8;
  };
  const std::vector<Shape> published = {
      {8192, 8192, 8192, 585, 1126}, {65536, 8192, 7168, 575, 1083}, {65536, 3584, 8192, 546, 1141}};
  const auto gpu = topologies::load_gpu("h100-sxm-500w");
  const auto isolated_tflops = [&](const topologies::GpuSpec& g, Precision p, const Shape& s) {
    const costs::ComputeCost cost(g, p);
    const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
    return flops / cost.gemm_time(s.m, s.n, s.k, 1, core::Bytes(0)).value() / 1e12 /
           g.efficiency.in_training_fraction;
  };
  for (const auto& s : published) {
    CAPTURE(s.m);
    CAPTURE(s.n);
    CAPTURE(s.k);
    CHECK(isolated_tflops(gpu, Precision::bf16, s) == doctest::Approx(s.bf16).epsilon(0.07));
    CHECK(isolated_tflops(gpu, Precision::fp8, s) == doctest::Approx(s.fp8).epsilon(0.07));
  }
  // At BF16's capped clock FP8 would fall 10-15 % short of every shape: the cap takes less from FP8.
  auto one_clock = gpu;
  one_clock.fp8_sustained_clock_mhz = 0;
  for (const auto& s : published) CHECK(isolated_tflops(one_clock, Precision::fp8, s) < 0.91 * s.fp8);
}

TEST_CASE("compute cost: Hopper's FP8 efficiency falls with the reduction depth as three published sweeps do") {
  // Published FP8 GEMM rates, TFLOP/s (../shared/design/REFERENCE-HOPPER.md section 1c): Azure's cuBLASLt sweep on H100
  // SXM (random data), DeepGEMM's M = 4096 table and tilelang's 8192 x 8192 x K sweep on H800 (H100's SMs and clocks).
  // Each source has its own level (library, power, data), so only the shape of the curve is compared: the log of
  // predicted over measured, less its mean per source. The preset's depth fits them better than a fifth less or more.
  struct Point {
    std::int64_t m, n, k;
    double tflops;
  };
  const std::vector<std::vector<Point>> sources = {
      {{2048, 2048, 2048, 1011}, {4096, 4096, 4096, 1217}, {8192, 8192, 8192, 1290}, {16384, 16384, 16384, 1377},
       {6144, 12288, 12288, 1351}},
      {{4096, 2112, 7168, 1009}, {4096, 24576, 1536, 1125}, {4096, 32768, 512, 751}, {4096, 7168, 16384, 1426},
       {4096, 4096, 7168, 1265}, {4096, 7168, 2048, 1168}},
      {{8192, 8192, 256, 569}, {8192, 8192, 1024, 1129}, {8192, 8192, 4096, 1467}, {8192, 8192, 16384, 1541}}};
  const auto misfit = [&](double k_half) {
    auto gpu = topologies::load_gpu("h100-sxm");
    gpu.efficiency.gemm_k_half_efficiency = k_half;
    const costs::ComputeCost fp8(gpu, Precision::fp8);
    double squares = 0;
    std::size_t points = 0;
    for (const auto& source : sources) {
      std::vector<double> r;
      for (const auto& p : source) r.push_back(std::log(fp8.gemm_efficiency(p.m, p.n, p.k, 1) / p.tflops));
      double mean = 0;
      for (const double x : r) mean += x / static_cast<double>(r.size());
      for (const double x : r) squares += (x - mean) * (x - mean), ++points;
    }
    return std::sqrt(squares / static_cast<double>(points));
  };
  const double preset = topologies::load_gpu("h100-sxm").efficiency.gemm_k_half_efficiency;
  CHECK(preset == 245);
  MESSAGE("rms log misfit " << misfit(preset) << " (A100's depth 64: " << misfit(64) << ")");
  CHECK(misfit(preset) < 0.04);
  CHECK(misfit(preset) < misfit(preset * 0.8));
  CHECK(misfit(preset) < misfit(preset * 1.25));
}

TEST_CASE("compute cost: block-scaled FP8 GEMMs run at the share of per-tensor scaled ones that TE's H200 table shows") {
  // NVIDIA/TransformerEngine@d0067d0 docs/examples/gemm_profiling/gemm_profiling.rst, "Worked Example: 5B Model on
  // H200" (H200 NVL): a layer's 12 GEMMs (forward, data and weight gradient of qkv, attention out, MLP up and down;
  // hidden 4096, MLP 16384, 15,872 tokens) each run as a te.Linear that quantizes both operands: FP8Current 20.285
  // ms, FP8Block 22.882 ms; FP8Current's GEMMs on operands quantized beforehand 16.785 ms.
  const double current = 20.285e-3, block = 22.882e-3, current_gemms = 16.785e-3;
  // hpsim moves as many cast bytes per element for block scaling as for current (tensorwise) scaling, so the block
  // GEMMs took what is left after the same quantization time.
  CHECK(costs::fp8_cast_bytes_per_element(costs::Fp8Recipe::blockwise) ==
        costs::fp8_cast_bytes_per_element(costs::Fp8Recipe::tensorwise));
  const double ratio = current_gemms / (block - (current - current_gemms));
  const auto h100 = topologies::load_gpu("h100-sxm");
  CHECK(h100.efficiency.fp8_blockwise_gemm_ratio == doctest::Approx(ratio).epsilon(1e-3));
  CHECK(topologies::load_gpu("h200-sxm").efficiency.fp8_blockwise_gemm_ratio == h100.efficiency.fp8_blockwise_gemm_ratio);

  // The same 12 te.Linear calls priced by hpsim on the H200 SXM preset: block over current as published, within 3 %.
  const auto h200 = topologies::load_gpu("h200-sxm");
  const auto layer = [&](costs::Fp8Recipe recipe) {
    const costs::ComputeCost cost(h200, costs::KernelChoice{Precision::fp8, recipe});
    const std::int64_t m = 15872, h = 4096, f = 16384;
    const std::int64_t linears[][2] = {{h, 3 * h}, {h, h}, {h, f}, {f, h}};  // in, out features
    double t = 0;
    for (const auto& l : linears) {
      const std::int64_t calls[][3] = {{m, l[0], l[1]}, {m, l[1], l[0]}, {l[0], m, l[1]}};  // fprop, dgrad, wgrad
      for (const auto& c : calls) {  // rows, in, out: quantize the input and the weight, then the GEMM
        const double elements = static_cast<double>(c[0] * c[1] + c[1] * c[2]);
        t += cost.memory_time(core::Bytes(costs::fp8_cast_bytes_per_element(recipe) * elements)).value() +
             cost.gemm_time(c[0], c[2], c[1], 1, core::Bytes(0)).value();
      }
    }
    return t;
  };
  const double predicted = layer(costs::Fp8Recipe::blockwise) / layer(costs::Fp8Recipe::tensorwise);
  MESSAGE("block / current scaling per layer: predicted " << predicted << ", published " << block / current);
  CHECK(predicted == doctest::Approx(block / current).epsilon(0.03));

  // Only block scaling pays it: a row-wise or per-tensor scale is applied in the epilogue, and 16 bits never.
  const auto efficiency = [&](Precision p, costs::Fp8Recipe r) {
    return costs::ComputeCost(h100, costs::KernelChoice{p, r}).gemm_efficiency(8192, 8192, 8192, 1);
  };
  const double tensorwise = efficiency(Precision::fp8, costs::Fp8Recipe::tensorwise);
  CHECK(efficiency(Precision::fp8, costs::Fp8Recipe::blockwise) == doctest::Approx(ratio * tensorwise).epsilon(1e-3));
  CHECK(efficiency(Precision::fp8, costs::Fp8Recipe::rowwise) == tensorwise);
  CHECK(efficiency(Precision::bf16, costs::Fp8Recipe::blockwise) == efficiency(Precision::bf16, costs::Fp8Recipe::delayed));
}

TEST_CASE("compute cost: a causal ring of cp steps runs its own chunk masked and the rest as unmasked half blocks") {
  // H100 SXM, cuDNN, head dim 128 (the preset's published table): causal forward at 4096 tokens 518 TFLOP/s,
  // unmasked forward at 2048 617; backward causal 424, unmasked 465. Kernels keep the in-training fraction 0.88506
  // (the 700 W part runs its peak clock); each of the 4 steps is a kernel (4 us).
  const costs::ComputeCost cost(topologies::load_gpu("h100-sxm"), costs::KernelChoice{Precision::bf16});
  models::Operator ring;
  ring.kind = models::OpKind::attention;
  ring.m = 4096, ring.n = 4 * 4096, ring.k = 128, ring.batch = 8, ring.causal = true;  // cp 4: 4096 of 16384 queries
  ring.forward_flops = core::Flops(1e12);
  ring.backward_flops = core::Flops(2.5e12);
  const double kept = 0.88506;
  const auto t = cost.time(ring);
  CHECK(t.forward.value() ==
        doctest::Approx(0.25e12 / (518e12 * kept) + 0.75e12 / (617e12 * kept) + 4 * 4e-6).epsilon(1e-6));
  CHECK(t.backward.value() ==
        doctest::Approx(0.625e12 / (424e12 * kept) + 1.875e12 / (465e12 * kept) + 4 * 4e-6).epsilon(1e-6));
  // Without context parallelism the one kernel is causal at its own length.
  models::Operator own = ring;
  own.n = own.m;
  CHECK(cost.time(own).forward.value() == doctest::Approx(1e12 / (518e12 * kept) + 4e-6).epsilon(1e-6));
}

TEST_CASE("compute cost: tile and wave quantization matches a brute-force count of tiles") {
  const costs::ComputeCost cost(topologies::load_gpu("a100-80gb"), Precision::bf16);
  struct Shape {
    std::int64_t m, n;
  };
  // One tile (1 SM of 108 busy), padded tiles, a wave and a bit, many waves.
  for (const Shape s : {Shape{128, 256}, Shape{8192, 300}, Shape{13824, 257}, Shape{1000, 1000}, Shape{8192, 8192}}) {
    CAPTURE(s.m);
    CAPTURE(s.n);
    const double depth = 8192.0 / (8192.0 + 64.0);
    CHECK(cost.gemm_efficiency(s.m, s.n, 8192, 1) == doctest::Approx(0.76 * depth * brute_force_quantization(s.m, s.n)));
  }
  // Worked by hand: one 128 x 256 tile on 108 SMs is 1/108 of a wave.
  CHECK(brute_force_quantization(128, 256) == doctest::Approx(1.0 / 108));
  // A short reduction (k = 64) halves the efficiency of the same shape.
  CHECK(cost.gemm_efficiency(13824, 256, 64, 1) == doctest::Approx(0.76 * 0.5));
}

TEST_CASE("compute cost: memory-bound kernels take bytes over 70 % of the published HBM bandwidth") {
  const costs::ComputeCost a100(topologies::load_gpu("a100-80gb"), Precision::bf16);
  const costs::ComputeCost h100(topologies::load_gpu("h100-sxm"), Precision::bf16);
  // 1 GB: A100 1e9 / (2039e9 * 0.7) = 700.62 us + 4 us; H100 1e9 / (3350e9 * 0.7) = 426.44 us + 4 us.
  CHECK(a100.memory_time(core::Bytes(1e9)).value() == doctest::Approx(704.624e-6).epsilon(1e-5));
  CHECK(h100.memory_time(core::Bytes(1e9)).value() == doctest::Approx(430.439e-6).epsilon(1e-5));
  CHECK(h100.memory_time(core::Bytes(0)).value() == 0);  // no kernel at all
  // A 1024^3 GEMM (2.1 GFLOP, about 3 us of arithmetic) said to move 10 GB is bound by memory: 4.2644 ms + 4 us.
  CHECK(h100.gemm_time(1024, 1024, 1024, 1, core::Bytes(1e10)).value() == doctest::Approx(4.26839e-3).epsilon(1e-5));
}

TEST_CASE("compute cost: element-wise roofline: memory-bound on A100, bound by arithmetic when the vector peak is low") {
  auto gpu = topologies::load_gpu("a100-80gb");
  const costs::ComputeCost a100(gpu, Precision::bf16);
  // GELU forward on 1e8 bf16 elements: 4 bytes and 24 FLOPs each. Memory: 4e8 / 1.4273e12 = 280.25 us; arithmetic at
  // the 19.5 TFLOP/s FP32 peak: 2.4e9 / 19.5e12 = 123.1 us. Memory wins: 284.25 us with the kernel's 4 us.
  const core::Bytes bytes(4e8);
  const core::Flops flops(24e8);
  CHECK(a100.elementwise_time(bytes, flops).value() == doctest::Approx(284.249e-6).epsilon(1e-5));
  // The same kernel where the vector peak is 1 TFLOP/s: 2.4e9 / 1e12 = 2.4 ms + 4 us, bound by arithmetic.
  gpu.vector_peak = core::tflop_per_s(1);
  CHECK(costs::ComputeCost(gpu, Precision::bf16).elementwise_time(bytes, flops).value() ==
        doctest::Approx(2.404e-3).epsilon(1e-6));
  // No vector peak given: bytes alone.
  gpu.vector_peak = core::FlopsPerSecond(0);
  CHECK(costs::ComputeCost(gpu, Precision::bf16).elementwise_time(bytes, flops).value() ==
        doctest::Approx(284.249e-6).epsilon(1e-5));
}

TEST_CASE("compute cost: a calibration table replaces the analytic curve (nearest measured shape)") {
  auto gpu = topologies::load_gpu("a100-80gb");
  gpu.gemm_table = {{1024, 1024, 1024, Precision::bf16, core::tflop_per_s(100)},
                    {8192, 8192, 8192, Precision::bf16, core::tflop_per_s(280)}};
  const costs::ComputeCost cost(gpu, Precision::bf16);
  // Measured rate over the 312 TFLOP/s peak: 100 / 312 = 0.32051, 280 / 312 = 0.89744.
  CHECK(cost.gemm_efficiency(900, 1100, 1000, 1) == doctest::Approx(0.320513).epsilon(1e-5));
  CHECK(cost.gemm_efficiency(8000, 9000, 8192, 1) == doctest::Approx(0.897436).epsilon(1e-5));
  // 8192^3 at the measured 280 TFLOP/s: 1.0995e12 / 280e12 = 3.9268 ms + 4 us.
  CHECK(cost.gemm_time(8192, 8192, 8192, 1, core::Bytes(0)).value() == doctest::Approx(3.93075e-3).epsilon(1e-5));
  // Another precision keeps the analytic curve (234.8 TFLOP/s, as above).
  const costs::ComputeCost fp16(gpu, Precision::fp16);
  CHECK(fp16.gemm_efficiency(8192, 8192, 8192, 1) == doctest::Approx(0.752639).epsilon(1e-5));
}
