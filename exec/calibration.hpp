#pragma once
/// `hpsim calibrate`: measures this machine as the executor uses it (every rank busy at once) and describes it as a
/// cluster file that `simulate`/`plan` accept (one node, one "GPU" per rank, a measured GEMM table).
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace hpsim::exec {

struct CalibrationOptions {
  std::string backend = "cpu";
  double seconds_per_shape = 0.03;  ///< timed window per GEMM shape (after one warm-up call)
  std::vector<std::int64_t> dims;   ///< GEMM grid values for m, n and k (empty: the default grid)
};

struct GemmRate {
  std::int64_t m = 0, n = 0, k = 0;
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
  std::vector<GemmRate> gemm;
  double stream_bytes_per_s = 0;       ///< the executor's streaming kernels (axpy, copy): bytes moved / time
  double vector_flop_per_s = 0;        ///< FP32 vector flops hpsim counts for the executor's LayerNorm, GELU and
                                       ///< softmax kernels (models::vector_flops) / their time
  double layernorm_flop_per_s = 0, gelu_flop_per_s = 0, softmax_flop_per_s = 0;  ///< the same, kernel by kernel
  double layernorm_s = 0, gelu_s = 0, softmax_s = 0;  ///< seconds per forward + backward call, kernel by kernel
  double call_overhead_s = 0;          ///< one tiny kernel call
  double ram_bytes = 0;
  bool measured_links = false;         ///< false with one rank (no communication to measure)
  LinkFit all_reduce, all_gather, send_recv;  ///< per algorithm step; valid when measured_links
  double seconds = 0;                  ///< wall time of the calibration
};

/// Collective over `world`; every rank returns the same result. Throws core::InputError for an unknown backend.
Calibration calibrate(const CalibrationOptions& options, MPI_Comm world);

/// The cluster description (YAML with a comment header) of a calibration: nodes 1, gpus_per_node = ranks, an
/// inline GPU named cpu-HOST whose fp32 peak is the best measured GEMM rate, with the GEMM table (precision fp32).
std::string calibration_to_yaml(const Calibration& c);

}  // namespace hpsim::exec
