#include "costs/compute_cost.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hpsim::costs {

namespace {
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
}  // namespace

ComputeCost::ComputeCost(const topologies::GpuSpec& gpu, topologies::Precision precision)
    : gpu_(gpu), precision_(precision), peak_(gpu.peak_for(precision)) {
  use_table_ = std::any_of(gpu_.gemm_table.begin(), gpu_.gemm_table.end(),
                           [&](const auto& g) { return g.precision == precision_; });
}

double ComputeCost::gemm_efficiency(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t batch) const {
  if (use_table_) return table_efficiency(m, n, k);
  const auto& e = gpu_.efficiency;
  // The output is cut into tiles that the SMs process in waves: padding of the last tile and an idle part of the
  // last wave both cost as if the work were there.
  const std::int64_t tiles_m = ceil_div(m, e.gemm_tile_m);
  const std::int64_t tiles_n = ceil_div(n, e.gemm_tile_n);
  const std::int64_t tiles = tiles_m * tiles_n * batch;
  const std::int64_t waves = ceil_div(tiles, gpu_.sm_count);
  const double useful = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(batch);
  const double paid = static_cast<double>(waves * gpu_.sm_count) * static_cast<double>(e.gemm_tile_m * e.gemm_tile_n);
  const double quantization = useful / paid;
  // A short reduction (small k) amortizes loading and storing each tile over few multiply-adds.
  const double depth = static_cast<double>(k) / (static_cast<double>(k) + e.gemm_k_half_efficiency);
  return e.gemm_peak_fraction * quantization * depth;
}

double ComputeCost::table_efficiency(std::int64_t m, std::int64_t n, std::int64_t k) const {
  // Nearest measured shape in log space: calibration grids are coarse, shapes far apart in size behave apart.
  double best = std::numeric_limits<double>::max();
  double rate = 0;
  for (const auto& g : gpu_.gemm_table) {
    if (g.precision != precision_) continue;
    const double d = std::pow(std::log(static_cast<double>(m) / g.m), 2) +
                     std::pow(std::log(static_cast<double>(n) / g.n), 2) +
                     std::pow(std::log(static_cast<double>(k) / g.k), 2);
    if (d < best) best = d, rate = g.achieved.value();
  }
  return std::clamp(rate / peak_.value(), 1e-3, 1.0);
}

core::Seconds ComputeCost::gemm_time(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t batch,
                                     core::Bytes bytes) const {
  if (m <= 0 || n <= 0 || k <= 0 || batch <= 0) return core::Seconds(0);
  const core::Flops flops(2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) *
                          static_cast<double>(batch));
  const core::Seconds compute = flops / (peak_ * gemm_efficiency(m, n, k, batch));
  const core::Seconds memory = bytes / (gpu_.hbm_bandwidth * gpu_.efficiency.memory_peak_fraction);
  return std::max(compute, memory) + gpu_.efficiency.kernel_overhead;
}

core::Seconds ComputeCost::elementwise_time(core::Bytes bytes, core::Flops vector_flops,
                                            core::VectorKernel kernel) const {
  if (bytes.value() <= 0 && vector_flops.value() <= 0) return core::Seconds(0);
  const core::Seconds memory = bytes / (gpu_.hbm_bandwidth * gpu_.efficiency.memory_peak_fraction);
  // Roofline: the FP32 vector arithmetic at the kernel's measured rate, else the vector peak (no fraction: a
  // calibrated CPU rate is an achieved one, and on GPUs this bound is far below the memory one), when given.
  const auto measured = gpu_.vector_table.find(kernel);
  const core::FlopsPerSecond rate = measured != gpu_.vector_table.end() ? measured->second : gpu_.vector_peak;
  const core::Seconds compute = rate.value() > 0 ? vector_flops / rate : core::Seconds(0);
  return std::max(memory, compute) + gpu_.efficiency.kernel_overhead;
}

core::Seconds ComputeCost::memory_time(core::Bytes bytes) const {
  if (bytes.value() <= 0) return core::Seconds(0);
  return bytes / (gpu_.hbm_bandwidth * gpu_.efficiency.memory_peak_fraction) + gpu_.efficiency.kernel_overhead;
}

OperatorTime ComputeCost::time(const models::Operator& op) const {
  switch (op.kind) {
    case models::OpKind::elementwise:
      return {elementwise_time(op.forward_bytes, op.forward_vector_flops, op.vector_kernel),
              elementwise_time(op.backward_bytes, op.backward_vector_flops, op.vector_kernel)};
    case models::OpKind::gemm:
    case models::OpKind::batched_gemm: {
      // Backward = data gradient (m x k, reduce over n) + weight gradient (k x n, reduce over m); each moves about
      // the bytes of the forward.
      const core::Bytes half = op.backward_bytes * 0.5;
      const core::Seconds fwd = gemm_time(op.m, op.n, op.k, op.batch, op.forward_bytes);
      const core::Seconds bwd = gemm_time(op.m, op.k, op.n, op.batch, half) + gemm_time(op.k, op.n, op.m, op.batch, half);
      return {fwd, bwd};
    }
    case models::OpKind::attention: {
      // Fused (flash) attention: both matmuls in one kernel, at the efficiency of the score GEMM's shape.
      const double eff = gemm_efficiency(op.m, op.n, op.k, op.batch);
      const auto& e = gpu_.efficiency;
      const auto hbm = gpu_.hbm_bandwidth * e.memory_peak_fraction;
      const core::Seconds fwd = std::max(op.forward_flops / (peak_ * eff), op.forward_bytes / hbm) + e.kernel_overhead;
      const core::Seconds bwd = std::max(op.backward_flops / (peak_ * eff), op.backward_bytes / hbm) + e.kernel_overhead;
      return {fwd, bwd};
    }
  }
  return {};
}

}  // namespace hpsim::costs
