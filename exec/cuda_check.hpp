#pragma once
/// Error checks for CUDA runtime and cuBLAS calls: a failure throws std::runtime_error naming the call. Shared by the
/// CUDA backend and the CUDA calibration; built with HPSIM_BUILD_CUDA only.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace hpsim::exec {

inline void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(e));
}

inline void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuBLAS: ") + what + ": " + cublasGetStatusString(s));
}

}  // namespace hpsim::exec
