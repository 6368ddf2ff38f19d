#pragma once
/// Time of one operator on one GPU: GEMMs by FLOPs over an efficiency that depends on their shape (tile and
/// wave quantization, short reductions), memory-bound kernels by bytes over HBM bandwidth (a roofline).
#include <optional>
#include <string_view>

#include "core/units.hpp"
#include "models/operators.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::costs {

/// How FP8 operands are scaled, which sets the cast kernels' HBM traffic per quantized element.
enum class Fp8Recipe { delayed, tensorwise, rowwise, blockwise };
inline constexpr std::string_view kFp8RecipeNames[] = {"delayed", "tensorwise", "rowwise", "blockwise"};

/// Which fused-attention kernel runs (names as in a GPU's attention_table).
enum class AttentionKernel { cudnn, flash2, flash3 };
inline constexpr std::string_view kAttentionKernelNames[] = {"cudnn", "flash2", "flash3"};

/// What the software runs, beside the GPU: the training precision, the FP8 scaling recipe and the attention kernel.
struct KernelChoice {
  topologies::Precision precision = topologies::Precision::bf16;
  Fp8Recipe fp8_recipe = Fp8Recipe::delayed;
  AttentionKernel attention = AttentionKernel::cudnn;
};

/// HBM bytes the cast kernels move per element of a BF16 operand quantized to FP8 under `recipe`.
double fp8_cast_bytes_per_element(Fp8Recipe recipe);

/// Forward and backward time of an operator.
struct OperatorTime {
  core::Seconds forward;
  core::Seconds backward;
};

/// Costs operators on one GPU type at one precision. Cheap to copy; no state beyond the GPU description.
class ComputeCost {
 public:
  ComputeCost(const topologies::GpuSpec& gpu, topologies::Precision precision);
  ComputeCost(const topologies::GpuSpec& gpu, const KernelChoice& kernels);

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
  /// A fused attention kernel's published rate for a sequence length (log-linear between the measured lengths,
  /// flat beyond them), at the nearest measured head dimension; nullopt when the GPU has no such kernel measured.
  [[nodiscard]] std::optional<core::FlopsPerSecond> attention_rate(std::int64_t head_dim, std::int64_t seq,
                                                                   bool causal, bool backward) const;

 private:
  /// A GEMM's rate in `precision` (the plan's, or BF16 for operators that stay in it).
  struct GemmRate {
    topologies::Precision precision;
    core::FlopsPerSecond peak;
    double peak_fraction;
    bool use_table;
  };
  [[nodiscard]] GemmRate gemm_rate(topologies::Precision precision) const;
  [[nodiscard]] double gemm_efficiency(const GemmRate& rate, std::int64_t m, std::int64_t n, std::int64_t k,
                                       std::int64_t batch) const;
  [[nodiscard]] core::Seconds gemm_time(const GemmRate& rate, std::int64_t m, std::int64_t n, std::int64_t k,
                                        std::int64_t batch, core::Bytes bytes) const;
  [[nodiscard]] double table_efficiency(const GemmRate& rate, std::int64_t m, std::int64_t n, std::int64_t k) const;
  [[nodiscard]] OperatorTime gemm_op_time(const models::Operator& op) const;
  [[nodiscard]] OperatorTime attention_time(const models::Operator& op) const;
  topologies::GpuSpec gpu_;
  KernelChoice kernels_;
  GemmRate rate_;        ///< the plan's precision
  GemmRate bf16_rate_;   ///< operators FP8 training keeps in 16 bits (attention, LM head, router)
};

}  // namespace hpsim::costs
