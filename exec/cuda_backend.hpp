#pragma once
/// The CUDA compute backend (cuBLAS GEMMs, exec/cuda_kernels.cu) and the helpers `run_plan` needs around it: device
/// count, one device per rank by node-local rank, step timing by CUDA events. Built with HPSIM_BUILD_CUDA (the macro
/// HPSIM_HAVE_CUDA is then defined for hpsim_exec and its users). This header needs no CUDA header.
#include <mpi.h>

#include <memory>
#include <string>

#include "exec/compute_backend.hpp"

namespace hpsim::exec {

/// What the GEMMs run in. Every buffer stays fp32 (activations, gradients, fp32 master weights, Adam's moments);
/// bf16/fp16: a 16-bit copy of the parameters (refreshed after each optimizer step) and 16-bit casts of the
/// activation operands feed cuBLAS with fp32 accumulation and fp32 output. tf32: fp32 operands, TF32 tensor cores.
enum class CudaPrecision { fp32, tf32, bf16, fp16 };
std::string to_string(CudaPrecision p);

/// CUDA devices visible to this process; 0 with `error` set (the runtime's message) when none or the runtime fails.
int cuda_device_count(std::string* error = nullptr);

/// This rank's device: its rank among the ranks of `world` on the same node (MPI_Comm_split_type SHARED).
/// Collective over `world`. Throws std::runtime_error "no CUDA device: ..." when there is none, or when the node
/// has more ranks than devices (NCCL wants one device per rank).
int select_cuda_device(MPI_Comm world);

/// A backend on `device` (made current for this thread). Throws std::runtime_error on a CUDA/cuBLAS failure.
std::unique_ptr<ComputeBackend> make_cuda_backend(int device, CudaPrecision precision);

/// The backend's compute stream (a cudaStream_t) when `backend` is a CUDA backend, else null.
void* cuda_stream_of(ComputeBackend& backend);

/// Times work on a CUDA backend's compute stream with CUDA events (cudaEventElapsedTime).
class CudaEventTimer {
 public:
  explicit CudaEventTimer(ComputeBackend& backend);
  CudaEventTimer(const CudaEventTimer&) = delete;
  CudaEventTimer& operator=(const CudaEventTimer&) = delete;
  ~CudaEventTimer();
  void start();
  /// Records the stop event, waits for it, returns seconds since start().
  double stop();

 private:
  void* stream_;
  void* start_ = nullptr;
  void* stop_ = nullptr;
};

}  // namespace hpsim::exec
