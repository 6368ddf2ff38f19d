#pragma once
/// `hpsim calibrate`: measures this machine as the executor uses it (every rank busy at once) and describes it as a
/// cluster file that `simulate`/`plan` accept (one node, one "GPU" per rank, a measured GEMM table). Backends: cpu
/// (the CPU executor: OpenBLAS, MPI) and cuda (one GPU per rank: cuBLAS, the CUDA backend's kernels, NCCL; a build
/// with HPSIM_BUILD_CUDA).
#include <mpi.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "topologies/cluster_spec.hpp"

namespace hpsim::exec {

struct CalibrationOptions {
  std::string backend = "cpu";    ///< cpu or cuda
  double seconds_per_shape = 0;   ///< timed window per GEMM shape (0: the backend's default, cpu 0.03, cuda 0.005)
  std::vector<std::int64_t> dims; ///< GEMM grid values for m, n and k (empty: the backend's default grid)
};

struct GemmRate {
  std::int64_t m = 0, n = 0, k = 0;
  /// What the rate is for, as the cluster file's precision keys mean it. cpu: fp32 (sgemm). cuda: fp32 = TF32
  /// tensor cores (fp32 operands and output, CUBLAS_COMPUTE_32F_FAST_TF32, topologies' meaning of fp32); bf16/fp16 =
  /// 16-bit operands, fp32 accumulation and fp32 output (CUBLAS_COMPUTE_32F, the executor's 16-bit GEMM).
  topologies::Precision precision = topologies::Precision::fp32;
  double flop_per_s = 0;  ///< per rank, with every rank running the same shape at once
};

/// A fitted linear model time = latency + bytes / bandwidth (per algorithm step, as topologies' costs use them).
struct LinkFit {
  double latency_s = 0;
  double bandwidth_bytes_per_s = 0;
};

struct Calibration {
  std::string backend;
  int ranks = 1;
  std::string hostname;
  std::string cpu_model;
  std::string date;                    ///< UTC, ISO 8601
  std::vector<GemmRate> gemm;          ///< cuda: every precision's grid (fp32 = TF32, bf16, fp16)
  /// cpu: the executor's streaming kernels (axpy, copy); cuda: a large device-to-device copy (copy_bytes). Bytes
  /// read + written / time: the cluster file's hbm_gbyte_per_s.
  double stream_bytes_per_s = 0;
  double vector_flop_per_s = 0;        ///< FP32 vector flops hpsim counts for the executor's LayerNorm, GELU and
                                       ///< softmax kernels (models::vector_flops) / their time together
  struct KernelRate {
    double seconds = 0;      ///< per forward + backward call
    double flop_per_s = 0;   ///< the FP32 vector flops hpsim counts for it / seconds
  };
  /// The executor's element-wise kernels one by one (LayerNorm, RMSNorm, GELU, SwiGLU, causal softmax): the GPU's
  /// vector_table, which the simulator uses for the operators of those kernels.
  std::map<core::VectorKernel, KernelRate> vector_kernels;
  double call_overhead_s = 0;          ///< one tiny kernel call (cuda: one launch among many queued)
  double ram_bytes = 0;
  bool measured_links = false;         ///< false with one rank (no communication to measure)
  LinkFit all_reduce, all_gather, send_recv;  ///< per algorithm step; valid when measured_links (cpu: MPI, cuda: NCCL)
  double seconds = 0;                  ///< wall time of the calibration

  // cuda only (empty or 0 for cpu).
  std::string device;                  ///< the GPU's name (rank 0's, cudaGetDeviceProperties)
  double device_memory_bytes = 0;      ///< the GPU's total memory (smallest over ranks)
  int sm_count = 0;                    ///< streaming multiprocessors (rank 0's GPU)
  std::string cuda_driver, cuda_runtime, nccl;  ///< versions, e.g. "13.0", "13.0", "2.28.5"
  double copy_bytes = 0;               ///< size of the copy behind stream_bytes_per_s
  double reserved_bytes = 0;           ///< GPU memory in use with every calibration buffer freed (CUDA context,
                                       ///< cuBLAS, NCCL; largest over ranks): the cluster file's memory_reserve_gib
  double strict_fp32_flop_per_s = 0;   ///< CUBLAS_COMPUTE_32F (no TF32: the executor's fp32 plans) at one shape
  std::int64_t strict_fp32_dim = 0;    ///< that shape: m = n = k = strict_fp32_dim (0: not measured)
};

/// Collective over `world`: checks that `options` can be calibrated here, alike on every rank and before any work:
/// the backend is cpu or cuda, cuda is built in, and every rank has a CUDA device of its own. Throws
/// core::InputError (where "calibrate"; field "--backend", "--dims" or "mpirun -np": cuda calibrates one host) on
/// every rank at once.
void check_calibration(const CalibrationOptions& options, MPI_Comm world);

/// Collective over `world` (check_calibration first); every rank returns the same result.
Calibration calibrate(const CalibrationOptions& options, MPI_Comm world);

/// The measurements a cluster file keeps as data (its `calibration:` block), rounded to 6 significant digits (far
/// below the measurement's noise, and readable).
topologies::Calibration calibration_data(const Calibration& c);

/// The cluster description (YAML with a comment header) of a calibration: nodes 1, gpus_per_node = ranks, an
/// inline GPU (cpu: named cpu-HOST; cuda: the GPU's name), and the `calibration:` block from which the loader takes
/// the GEMM table and peaks, the element-wise rates and the intra-node link. Needs no device: a Calibration made by
/// hand renders the same.
std::string calibration_to_yaml(const Calibration& c);

}  // namespace hpsim::exec
