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

/// How the framework runs a layer's operators: fused element-wise kernels issued by the host (Megatron-LM with
/// Transformer Engine, or torch.compile), eager PyTorch op by op (element-wise chains unfused), or fused kernels
/// replayed from CUDA graphs (no host issue time).
enum class Execution { fused, eager, cuda_graphs };
inline constexpr std::string_view kExecutionNames[] = {"fused", "eager", "cuda_graphs"};

/// SMs a tensor-parallel reduce-scatter overlapped with its GEMM takes from it: Transformer Engine's userbuffers
/// run the attention projection's and MLP down projection's forward GEMMs beside a chunked reduce-scatter on 24 and
/// 16 SMs with set_sm_margin (the GEMM leaves them free); their all-gathers are ring exchanges on copy engines (NeMo
/// tp_overlap_configs/userbuffers.py, userbuffers_bf16_h100_h8192_tp4_mbs1_seqlen8192 and the 405B configs).
inline constexpr std::int64_t kTpOverlapReduceScatterSms = 20;

/// What the software runs, beside the GPU: the training precision, the FP8 scaling recipe, the attention kernel,
/// and the SMs row-parallel GEMMs leave to an overlapped TP reduce-scatter (0: none).
struct KernelChoice {
  topologies::Precision precision = topologies::Precision::bf16;
  Fp8Recipe fp8_recipe = Fp8Recipe::delayed;
  AttentionKernel attention = AttentionKernel::cudnn;
  std::int64_t tp_overlap_sms = 0;
  Execution execution = Execution::fused;
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
    return kernels_.execution == Execution::cuda_graphs ? core::Seconds(0) : gpu_.efficiency.host_overhead * operators;
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
    double scaling_ratio;  ///< what the FP8 recipe's scaling leaves of the per-tensor scaled rate (1 in 16 bits)
  };
  [[nodiscard]] GemmRate gemm_rate(topologies::Precision precision) const;
  /// Tensor-core work runs at the sustained clock: published rates (measured at the peak clock) scale with it. The
  /// 16-bit clock: the fused-attention kernels it scales run in BF16 (FP8 GEMMs take theirs from gemm_rate).
  [[nodiscard]] double clock_ratio() const;
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
  core::FlopsPerSecond reference_peak_;  ///< the quoted 16-bit peak gemm_k_half_efficiency is measured against
};

}  // namespace hpsim::costs
