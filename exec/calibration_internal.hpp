#pragma once
/// Internal to `hpsim calibrate`: the timing and fitting that the CPU (exec/calibration.cpp) and CUDA
/// (exec/cuda_calibration.cpp) calibrations share, so that a number means the same thing on either backend.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "exec/calibration.hpp"
#include "exec/compute_backend.hpp"
#include "exec/mpi_comm.hpp"

namespace hpsim::exec::detail {

/// Times one window of calls: start(), the calls, then stop() returns the seconds once the work has finished.
class WindowClock {
 public:
  virtual ~WindowClock() = default;
  virtual void start() = 0;
  virtual double stop() = 0;
};

/// Wall time (MPI_Wtime); stop() first waits for `backend` (when given) to finish its queued work.
class WallClock final : public WindowClock {
 public:
  explicit WallClock(ComputeBackend* backend = nullptr) : backend_(backend) {}
  void start() override { t0_ = MPI_Wtime(); }
  double stop() override {
    if (backend_ != nullptr) backend_->synchronize();
    return MPI_Wtime() - t0_;
  }

 private:
  ComputeBackend* backend_;
  double t0_ = 0;
};

inline double max_over(MPI_Comm world, double v) {
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, world), "MPI_Allreduce");
  return v;
}

/// Runs `body` on every rank at once: one warm-up call, a probe call to size the window, then about
/// window_s / probe calls (at least `min_calls`) in three windows. Returns the seconds per call: the median window,
/// max over ranks (the slowest rank bounds a step, as in a run). Collective: every rank makes the same calls.
template <class F>
double time_per_call(MPI_Comm world, WindowClock& clock, double window_s, F&& body, std::int64_t min_calls = 2) {
  using i64 = std::int64_t;
  body();
  check_mpi(MPI_Barrier(world), "MPI_Barrier");
  clock.start();
  body();
  const double probe = max_over(world, clock.stop());
  const i64 calls = std::max<i64>(min_calls, static_cast<i64>(std::ceil(window_s / std::max(probe, 1e-9))));
  // Three windows of a third each, the median kept: a neighbour's burst of work (other processes on the machine)
  // moves one window, not the result.
  const i64 per_window = std::max<i64>(1, (calls + 2) / 3);
  std::vector<double> windows;
  for (int w = 0; w < 3; ++w) {
    check_mpi(MPI_Barrier(world), "MPI_Barrier");
    clock.start();
    for (i64 i = 0; i < per_window; ++i) body();
    windows.push_back(max_over(world, clock.stop()) / static_cast<double>(per_window));
  }
  std::sort(windows.begin(), windows.end());
  return windows[1];
}

/// Sizes of the element-wise kernels measure_vector times (LayerNorm over rows x hidden, GELU over rows x ffn,
/// causal softmax over heads matrices of seq x seq).
struct VectorShapes {
  std::int64_t rows = 0, hidden = 0, ffn = 0, heads = 0, seq = 0;
};

/// The executor's element-wise kernels (LayerNorm, GELU, causal softmax, forward and backward) through `backend`,
/// kernel by kernel; rate = the FP32 vector flops hpsim's operator model counts for them (models::vector_flops) /
/// their time. Fills c's layernorm/gelu/softmax seconds and rates and vector_flop_per_s.
void measure_vector(ComputeBackend& backend, WindowClock& clock, MPI_Comm world, const VectorShapes& shapes,
                    Calibration& c);

enum class Collective { all_reduce, all_gather, send_recv };

/// Runs one `which` over `floats` floats in all (all-gather: floats / ranks from each rank; send/recv: one round
/// trip of `floats` between ranks 0 and 1, the other ranks idle).
using CollectiveCall = std::function<void(Collective which, std::size_t floats)>;

/// Times `call` at each size (bytes, a multiple of 4), on every rank at once, and fits time = a + b * bytes by least
/// squares, converted to hpsim's per-step model: ring all-reduce 2(n-1) steps of S/n, ring all-gather (n-1) steps
/// of S/n, send/recv one step of S (half the round trip).
LinkFit measure_link(MPI_Comm world, WindowClock& clock, double window_s, Collective which,
                     const std::vector<double>& sizes_bytes, const CollectiveCall& call);

#ifdef HPSIM_HAVE_CUDA
/// exec/cuda_calibration.cpp. Collective: throws core::InputError on every rank alike, before any work, when a rank
/// has no CUDA device (or its node has more ranks than devices) or a --dims value is too large for cuBLAS.
void check_cuda_calibration(const CalibrationOptions& options, MPI_Comm world);
/// Measures the GPUs (one per rank) into `c`, whose backend-neutral fields (host, date, ranks) are filled.
void calibrate_cuda(const CalibrationOptions& options, MPI_Comm world, Calibration& c);
#endif

}  // namespace hpsim::exec::detail
