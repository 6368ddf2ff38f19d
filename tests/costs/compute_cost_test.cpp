#include <doctest/doctest.h>

#include "costs/compute_cost.hpp"

using namespace hpsim;
using topologies::Precision;

TEST_CASE("compute cost: a GEMM that fills whole waves of tiles runs at the peak fraction times the depth term") {
  const auto gpu = topologies::load_gpu("a100-80gb");
  const costs::ComputeCost cost(gpu, Precision::fp16);
  const auto& e = gpu.efficiency;
  // 108 SMs x (128 x 256) tiles: m = 128 * 108, n = 256 is exactly one full wave.
  const std::int64_t m = 128 * 108, n = 256, k = 4096;
  const double depth = double(k) / (double(k) + e.gemm_k_half_efficiency);
  CHECK(cost.gemm_efficiency(m, n, k, 1) == doctest::Approx(e.gemm_peak_fraction * depth));
  const double flops = 2.0 * m * n * k;
  const double expected = flops / (312e12 * e.gemm_peak_fraction * depth) + e.kernel_overhead.value();
  CHECK(cost.gemm_time(m, n, k, 1, core::Bytes(0)).value() == doctest::Approx(expected));
}

TEST_CASE("compute cost: skinny and small GEMMs run further below peak than large ones") {
  const costs::ComputeCost cost(topologies::load_gpu("a100-80gb"), Precision::bf16);
  const double large = cost.gemm_efficiency(8192, 8192, 8192, 1);
  CHECK(cost.gemm_efficiency(8192, 8192, 64, 1) < 0.6 * large);   // short reduction
  CHECK(cost.gemm_efficiency(128, 256, 8192, 1) < 0.05 * large);  // one tile: one SM busy of 108
  CHECK(cost.gemm_efficiency(8192, 300, 8192, 1) < large);        // padded tiles
  CHECK(large <= topologies::load_gpu("a100-80gb").efficiency.gemm_peak_fraction);
}

TEST_CASE("compute cost: memory-bound kernels take bytes over achieved HBM bandwidth, and a roofline caps GEMMs") {
  const auto gpu = topologies::load_gpu("h100-sxm");
  const costs::ComputeCost cost(gpu, Precision::bf16);
  const double bw = gpu.hbm_bandwidth.value() * gpu.efficiency.memory_peak_fraction;
  CHECK(cost.memory_time(core::Bytes(1e9)).value() ==
        doctest::Approx(1e9 / bw + gpu.efficiency.kernel_overhead.value()));
  CHECK(cost.memory_time(core::Bytes(0)).value() == 0);
  // A GEMM moving far more bytes than its FLOPs need is bound by memory.
  CHECK(cost.gemm_time(1024, 1024, 1024, 1, core::Bytes(1e10)).value() ==
        doctest::Approx(1e10 / bw + gpu.efficiency.kernel_overhead.value()));
}

TEST_CASE("compute cost: element-wise roofline: memory-bound on A100, bound by arithmetic when the vector peak is low") {
  auto gpu = topologies::load_gpu("a100-80gb");
  CHECK(gpu.vector_peak.value() == doctest::Approx(19.5e12));
  const costs::ComputeCost a100(gpu, Precision::bf16);
  const double bw = gpu.hbm_bandwidth.value() * gpu.efficiency.memory_peak_fraction;
  const double overhead = gpu.efficiency.kernel_overhead.value();
  // GELU forward on 1e8 bf16 elements: 4 bytes and 24 flops each -> memory-bound, unchanged from bytes alone.
  const core::Bytes bytes(4e8);
  const core::Flops flops(24e8);
  CHECK(a100.elementwise_time(bytes, flops).value() == doctest::Approx(4e8 / bw + overhead));
  CHECK(a100.elementwise_time(bytes, flops).value() == doctest::Approx(a100.memory_time(bytes).value()));
  // The same kernel where the vector peak is 1 TFLOP/s: bound by its arithmetic.
  gpu.vector_peak = core::tflop_per_s(1);
  const costs::ComputeCost slow(gpu, Precision::bf16);
  CHECK(slow.elementwise_time(bytes, flops).value() == doctest::Approx(24e8 / 1e12 + overhead));
  // No vector peak given: bytes alone.
  gpu.vector_peak = core::FlopsPerSecond(0);
  const costs::ComputeCost none(gpu, Precision::bf16);
  CHECK(none.elementwise_time(bytes, flops).value() == doctest::Approx(4e8 / bw + overhead));
}

TEST_CASE("compute cost: a calibration table replaces the analytic curve (nearest measured shape)") {
  auto gpu = topologies::load_gpu("a100-80gb");
  gpu.gemm_table = {{1024, 1024, 1024, Precision::bf16, core::tflop_per_s(100)},
                    {8192, 8192, 8192, Precision::bf16, core::tflop_per_s(280)}};
  const costs::ComputeCost cost(gpu, Precision::bf16);
  CHECK(cost.gemm_efficiency(900, 1100, 1000, 1) == doctest::Approx(100.0 / 312));
  CHECK(cost.gemm_efficiency(8000, 9000, 8192, 1) == doctest::Approx(280.0 / 312));
  // Another precision keeps the analytic curve.
  const costs::ComputeCost fp16(gpu, Precision::fp16);
  CHECK(fp16.gemm_efficiency(8192, 8192, 8192, 1) < gpu.efficiency.gemm_peak_fraction + 1e-12);
}
