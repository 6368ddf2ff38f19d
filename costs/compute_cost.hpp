#pragma once
/// Time of one operator on one GPU: GEMMs by FLOPs over an efficiency that depends on their shape (tile and
/// wave quantization, short reductions), memory-bound kernels by bytes over HBM bandwidth (a roofline).
#include "core/units.hpp"
#include "models/operators.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::costs {

/// Forward and backward time of an operator.
struct OperatorTime {
  core::Seconds forward;
  core::Seconds backward;
};

/// Costs operators on one GPU type at one precision. Cheap to copy; no state beyond the GPU description.
class ComputeCost {
 public:
  ComputeCost(const topologies::GpuSpec& gpu, topologies::Precision precision);

  [[nodiscard]] OperatorTime time(const models::Operator& op) const;
  /// One GEMM C[m x n] = A[m x k] B[k x n], `batch` times, reading and writing `bytes` of HBM.
  [[nodiscard]] core::Seconds gemm_time(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t batch,
                                        core::Bytes bytes) const;
  /// The host's (framework's) time to issue `operators` operators of the layer model: the least time a pass of
  /// them can take on the device.
  [[nodiscard]] core::Seconds host_issue_time(double operators) const {
    return gpu_.efficiency.host_overhead * operators;
  }
  /// A memory-bound kernel moving `bytes`.
  [[nodiscard]] core::Seconds memory_time(core::Bytes bytes) const;
  /// An element-wise kernel: roofline of `bytes` over achieved HBM bandwidth and `vector_flops` over the kernel's
  /// measured rate (the GPU's vector_table) or else its FP32 vector peak (when it gives one), plus the kernel
  /// overhead.
  [[nodiscard]] core::Seconds elementwise_time(core::Bytes bytes, core::Flops vector_flops,
                                               core::VectorKernel kernel = core::VectorKernel::generic) const;
  /// Achieved fraction of peak for a GEMM shape (the analytic curve, or the calibration table when present).
  [[nodiscard]] double gemm_efficiency(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t batch) const;

 private:
  [[nodiscard]] double table_efficiency(std::int64_t m, std::int64_t n, std::int64_t k) const;
  topologies::GpuSpec gpu_;
  topologies::Precision precision_;
  core::FlopsPerSecond peak_;
  bool use_table_ = false;
};

}  // namespace hpsim::costs
