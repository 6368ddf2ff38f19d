/// The CUDA compute backend: device buffers (fp32), cuBLAS GEMMs (cublasGemmEx: fp32, TF32, or bf16/fp16 operands
/// with fp32 accumulation), the kernels of exec/cuda_kernels.cu, all on one compute stream.
#include "exec/cuda_backend.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "exec/cuda_check.hpp"
#include "exec/cuda_kernels.hpp"
#include "exec/mpi_comm.hpp"

namespace hpsim::exec {

namespace {

using i64 = std::int64_t;


/// A device scratch area that grows on demand (freed and reallocated: cudaFree waits for the device).
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (p_ != nullptr) cudaFree(p_);
  }
  void* get(std::size_t bytes) {
    if (bytes > size_) {
      if (p_ != nullptr) check_cuda(cudaFree(p_), "cudaFree");
      p_ = nullptr;
      size_ = std::max(bytes, size_ * 2);
      check_cuda(cudaMalloc(&p_, size_), "cudaMalloc (scratch)");
    }
    return p_;
  }

 private:
  void* p_ = nullptr;
  std::size_t size_ = 0;
};

class CudaBackend final : public ComputeBackend {
 public:
  CudaBackend(int device, CudaPrecision precision) : device_(device), precision_(precision) {
    check_cuda(cudaSetDevice(device), "cudaSetDevice");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check_cublas(cublasCreate(&blas_), "cublasCreate");
    check_cublas(cublasSetStream(blas_, stream_), "cublasSetStream");
    check_cublas(cublasSetPointerMode(blas_, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
  }
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    if (shadow_ != nullptr) cudaFree(shadow_);
    cublasDestroy(blas_);
    cudaStreamDestroy(stream_);
  }

  [[nodiscard]] std::string name() const override { return "cuda"; }
  [[nodiscard]] cudaStream_t stream() const { return stream_; }

  float* allocate(std::size_t n) override {
    void* p = nullptr;
    const std::size_t bytes = std::max<std::size_t>(n, 1) * sizeof(float);
    check_cuda(cudaMalloc(&p, bytes), "cudaMalloc");
    check_cuda(cudaMemsetAsync(p, 0, bytes, stream_), "cudaMemsetAsync");
    return static_cast<float*>(p);
  }
  void release(float* p) noexcept override {
    if (p == params_) register_parameters(nullptr, 0);
    cudaFree(p);  // waits for the device
  }
  void upload(float* dst, const float* host, std::size_t n) override {
    check_cuda(cudaMemcpyAsync(dst, host, n * sizeof(float), cudaMemcpyHostToDevice, stream_), "upload");
    check_cuda(cudaStreamSynchronize(stream_), "upload");
    touched(dst, n);
  }
  void download(float* host, const float* src, std::size_t n) override {
    check_cuda(cudaMemcpyAsync(host, src, n * sizeof(float), cudaMemcpyDeviceToHost, stream_), "download");
    check_cuda(cudaStreamSynchronize(stream_), "download");
  }
  void synchronize() override { check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

  void register_parameters(float* params, std::size_t n) noexcept override {
    if (shadow_ != nullptr) cudaFree(shadow_);
    shadow_ = nullptr;
    params_ = params;
    n_params_ = n;
    stale_ = true;
  }

  void copy(float* dst, const float* src, std::size_t n) override {
    if (n == 0 || dst == src) return;
    check_cuda(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream_), "copy");
    touched(dst, n);
  }
  void fill(float* x, float value, std::size_t n) override {
    cuda::fill(x, value, n, stream_);
    launched("fill");
    touched(x, n);
  }
  void axpy(float* y, float a, const float* x, std::size_t n) override {
    cuda::axpy(y, a, x, n, stream_);
    launched("axpy");
    touched(y, n);
  }

  void gemm(bool ta, bool tb, i64 m, i64 n, i64 k, float alpha, const float* a, i64 lda, const float* b, i64 ldb,
            float beta, float* c, i64 ldc) override {
    if (m == 0 || n == 0) return;
    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands, keep the flags.
    const cublasOperation_t op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    const auto im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
    if (precision_ == CudaPrecision::fp32 || precision_ == CudaPrecision::tf32) {
      const cublasComputeType_t ct =
          precision_ == CudaPrecision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      check_cublas(cublasGemmEx(blas_, op_b, op_a, in, im, ik, &alpha, b, CUDA_R_32F, static_cast<int>(ldb), a,
                                CUDA_R_32F, static_cast<int>(lda), &beta, c, CUDA_R_32F, static_cast<int>(ldc), ct,
                                CUBLAS_GEMM_DEFAULT),
                   "cublasGemmEx (fp32)");
      return;
    }
    // 16-bit operands: A is stored [m, k] (or [k, m] when transposed), B [k, n] (or [n, k]).
    const cudaDataType_t type = precision_ == CudaPrecision::bf16 ? CUDA_R_16BF : CUDA_R_16F;
    const i64 a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    const std::size_t a_bytes = align(static_cast<std::size_t>(a_rows * a_cols) * 2);
    const std::size_t b_bytes = align(static_cast<std::size_t>(b_rows * b_cols) * 2);
    i64 lda16 = lda, ldb16 = ldb;
    const void* a16 = param_view(a);
    const void* b16 = param_view(b);
    auto* base = static_cast<char*>(
        operands_.get((a16 == nullptr ? a_bytes : 0) + (b16 == nullptr ? b_bytes : 0) + 256));
    if (a16 == nullptr) {
      cuda::cast_2d(a, lda, a_rows, a_cols, base, half(), stream_);
      launched("cast");
      a16 = base;
      lda16 = a_cols;
      base += a_bytes;
    }
    if (b16 == nullptr) {
      cuda::cast_2d(b, ldb, b_rows, b_cols, base, half(), stream_);
      launched("cast");
      b16 = base;
      ldb16 = b_cols;
    }
    check_cublas(cublasGemmEx(blas_, op_b, op_a, in, im, ik, &alpha, b16, type, static_cast<int>(ldb16), a16, type,
                              static_cast<int>(lda16), &beta, c, CUDA_R_32F, static_cast<int>(ldc),
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx (16-bit)");
  }

  void gemm_batched(bool ta, bool tb, i64 m, i64 n, i64 k, float alpha, const float* a, i64 lda, i64 stride_a,
                    const float* b, i64 ldb, i64 stride_b, float beta, float* c, i64 ldc, i64 stride_c,
                    i64 batch) override {
    if (m == 0 || n == 0 || batch == 0) return;
    // Row-major as in gemm: swap the operands, keep the flags.
    const cublasOperation_t op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    const auto im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
    const auto ib = static_cast<int>(batch);
    if (precision_ == CudaPrecision::fp32 || precision_ == CudaPrecision::tf32) {
      const cublasComputeType_t ct =
          precision_ == CudaPrecision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      check_cublas(cublasGemmStridedBatchedEx(blas_, op_b, op_a, in, im, ik, &alpha, b, CUDA_R_32F, static_cast<int>(ldb),
                                              stride_b, a, CUDA_R_32F, static_cast<int>(lda), stride_a, &beta, c,
                                              CUDA_R_32F, static_cast<int>(ldc), stride_c, ib, ct, CUBLAS_GEMM_DEFAULT),
                   "cublasGemmStridedBatchedEx (fp32)");
      return;
    }
    // 16-bit operands: cast each operand's whole span (interleaved matrices included) keeping its layout, so that the
    // same leading dimensions and strides address the 16-bit copy.
    const cudaDataType_t type = precision_ == CudaPrecision::bf16 ? CUDA_R_16BF : CUDA_R_16F;
    const i64 a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    const i64 a_span = (batch - 1) * stride_a + (a_rows - 1) * lda + a_cols;
    const i64 b_span = (batch - 1) * stride_b + (b_rows - 1) * ldb + b_cols;
    const std::size_t a_bytes = align(static_cast<std::size_t>(a_span) * 2);
    auto* base = static_cast<char*>(operands_.get(a_bytes + align(static_cast<std::size_t>(b_span) * 2) + 256));
    cuda::cast_2d(a, a_span, 1, a_span, base, half(), stream_);
    cuda::cast_2d(b, b_span, 1, b_span, base + a_bytes, half(), stream_);
    launched("cast");
    check_cublas(cublasGemmStridedBatchedEx(blas_, op_b, op_a, in, im, ik, &alpha, base + a_bytes, type,
                                            static_cast<int>(ldb), stride_b, base, type, static_cast<int>(lda),
                                            stride_a, &beta, c, CUDA_R_32F, static_cast<int>(ldc), stride_c, ib,
                                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmStridedBatchedEx (16-bit)");
  }

  void add_bias(float* y, const float* bias, i64 rows, i64 cols) override {
    cuda::add_bias(y, bias, rows, cols, stream_);
    launched("add_bias");
  }
  void bias_grad(float* dbias, const float* dy, i64 rows, i64 cols) override {
    cuda::bias_grad(dbias, dy, rows, cols, stream_);
    launched("bias_grad");
  }
  void layernorm_forward(const float* x, const float* g, const float* b, float* y, float* mean, float* rstd, i64 rows,
                         i64 cols, float eps) override {
    cuda::layernorm_forward(x, g, b, y, mean, rstd, rows, cols, eps, stream_);
    launched("layernorm_forward");
  }
  void layernorm_backward(const float* dy, const float* x, const float* g, const float* mean, const float* rstd,
                          float* dx, float* dg, float* db, i64 rows, i64 cols) override {
    cuda::layernorm_backward(dy, x, g, mean, rstd, dx, dg, db, rows, cols, stream_);
    launched("layernorm_backward");
  }
  void rmsnorm_forward(const float* x, const float* g, float* y, float* rstd, i64 rows, i64 cols, float eps) override {
    cuda::rmsnorm_forward(x, g, y, rstd, rows, cols, eps, stream_);
    launched("rmsnorm_forward");
  }
  void rmsnorm_backward(const float* dy, const float* x, const float* g, const float* rstd, float* dx, float* dg,
                        i64 rows, i64 cols) override {
    cuda::rmsnorm_backward(dy, x, g, rstd, dx, dg, rows, cols, stream_);
    launched("rmsnorm_backward");
  }
  void swiglu_forward(const float* x, float* y, i64 rows, i64 cols) override {
    cuda::swiglu_forward(x, y, rows, cols, stream_);
    launched("swiglu_forward");
  }
  void swiglu_backward(const float* x, const float* dy, float* dx, i64 rows, i64 cols) override {
    cuda::swiglu_backward(x, dy, dx, rows, cols, stream_);
    launched("swiglu_backward");
  }
  void rope(float* x, i64 rows, i64 row_stride, i64 heads, i64 head_dim, i64 seq, i64 first_position, float base,
            bool inverse) override {
    cuda::rope(x, rows, row_stride, heads, head_dim, seq, first_position, base, inverse, stream_);
    launched("rope");
  }
  void gelu_forward(const float* x, float* y, std::size_t n) override {
    cuda::gelu_forward(x, y, n, stream_);
    launched("gelu_forward");
  }
  void gelu_backward(const float* x, const float* dy, float* dx, std::size_t n) override {
    cuda::gelu_backward(x, dy, dx, n, stream_);
    launched("gelu_backward");
  }
  void causal_softmax_forward(float* scores, i64 batch, i64 rows, i64 cols, i64 offset, float scale) override {
    cuda::causal_softmax_forward(scores, batch, rows, cols, offset, scale, stream_);
    launched("causal_softmax_forward");
  }
  void softmax_backward(const float* p, const float* dp, float* ds, i64 rows, i64 cols, float scale) override {
    cuda::softmax_backward(p, dp, ds, rows, cols, scale, stream_);
    launched("softmax_backward");
  }
  void copy_rows(float* dst, i64 ld_dst, const float* src, i64 ld_src, i64 rows, i64 cols) override {
    if (rows == 0 || cols == 0) return;
    check_cuda(cudaMemcpy2DAsync(dst, static_cast<std::size_t>(ld_dst) * sizeof(float), src,
                                 static_cast<std::size_t>(ld_src) * sizeof(float),
                                 static_cast<std::size_t>(cols) * sizeof(float), static_cast<std::size_t>(rows),
                                 cudaMemcpyDeviceToDevice, stream_),
               "copy_rows");
    touched(dst, static_cast<std::size_t>((rows - 1) * ld_dst + cols));
  }
  void embedding_forward(std::span<const std::int32_t> tokens, const float* table, i64 first_row, i64 rows, i64 cols,
                         float* out) override {
    cuda::embedding_forward(device_tokens(tokens), static_cast<i64>(tokens.size()), table, first_row, rows, cols, out,
                            stream_);
    launched("embedding_forward");
  }
  void embedding_backward(std::span<const std::int32_t> tokens, const float* dy, i64 first_row, i64 rows, i64 cols,
                          float* dtable) override {
    cuda::embedding_backward(device_tokens(tokens), static_cast<i64>(tokens.size()), dy, first_row, rows, cols,
                             dtable, stream_);
    launched("embedding_backward");
  }
  void add_positions(float* x, const float* pos, i64 batch, i64 seq, i64 cols) override {
    cuda::add_positions(x, pos, batch, seq, cols, stream_);
    launched("add_positions");
  }
  void position_grad(float* dpos, const float* dx, i64 batch, i64 seq, i64 cols) override {
    cuda::position_grad(dpos, dx, batch, seq, cols, stream_);
    launched("position_grad");
  }
  void row_max(const float* x, i64 rows, i64 cols, float* out) override {
    cuda::row_max(x, rows, cols, out, stream_);
    launched("row_max");
  }
  void row_sum_exp(const float* x, const float* max, i64 rows, i64 cols, float* out) override {
    cuda::row_sum_exp(x, max, rows, cols, out, stream_);
    launched("row_sum_exp");
  }
  void pick_targets(const float* x, std::span<const std::int32_t> targets, i64 cols, i64 first_col,
                    float* out) override {
    cuda::pick_targets(x, device_tokens(targets), static_cast<i64>(targets.size()), cols, first_col, out, stream_);
    launched("pick_targets");
  }
  void cross_entropy_backward(const float* x, const float* max, const float* sum_exp,
                              std::span<const std::int32_t> targets, i64 cols, i64 first_col, float scale,
                              float* dx) override {
    cuda::cross_entropy_backward(x, max, sum_exp, device_tokens(targets), static_cast<i64>(targets.size()), cols,
                                 first_col, scale, dx, stream_);
    launched("cross_entropy_backward");
  }
  void adam(float* p, const float* g, float* m, float* v, std::size_t n, const AdamConfig& a, std::int64_t step,
            float grad_scale) override {
    const float bc1 = 1.0F - std::pow(a.beta1, static_cast<float>(step));
    const float bc2 = 1.0F - std::pow(a.beta2, static_cast<float>(step));
    cuda::adam(p, g, m, v, n, a.lr, a.beta1, a.beta2, a.eps, a.weight_decay, bc1, bc2, grad_scale, stream_);
    launched("adam");
    touched(p, n);  // the 16-bit copy is cast again before the next GEMM that reads it
  }
  bool all_finite(const float* x, std::size_t n) override {
    auto* flag = static_cast<int*>(flag_.get(sizeof(int)));
    check_cuda(cudaMemsetAsync(flag, 0, sizeof(int), stream_), "all_finite");
    cuda::flag_non_finite(x, n, flag, stream_);
    launched("flag_non_finite");
    int found = 0;
    check_cuda(cudaMemcpyAsync(&found, flag, sizeof(int), cudaMemcpyDeviceToHost, stream_), "all_finite");
    check_cuda(cudaStreamSynchronize(stream_), "all_finite");
    return found == 0;
  }

 private:
  static std::size_t align(std::size_t bytes) { return (bytes + 255) / 256 * 256; }
  [[nodiscard]] cuda::Half16 half() const {
    return precision_ == CudaPrecision::bf16 ? cuda::Half16::bf16 : cuda::Half16::fp16;
  }
  void launched(const char* what) { check_cuda(cudaGetLastError(), what); }
  /// A write into [p, p+n): the 16-bit parameter copy is stale when it overlaps the parameters.
  void touched(const float* p, std::size_t n) {
    if (params_ != nullptr && p < params_ + n_params_ && p + n > params_) stale_ = true;
  }
  /// The 16-bit copy of a parameter pointer (cast again when stale), or null for any other pointer.
  const void* param_view(const float* p) {
    if (params_ == nullptr || p < params_ || p >= params_ + n_params_) return nullptr;
    if (shadow_ == nullptr) check_cuda(cudaMalloc(&shadow_, n_params_ * 2), "cudaMalloc (16-bit parameters)");
    if (stale_) {
      cuda::cast_2d(params_, static_cast<i64>(n_params_), 1, static_cast<i64>(n_params_), shadow_, half(), stream_);
      launched("cast parameters");
      stale_ = false;
    }
    return static_cast<const char*>(shadow_) + (p - params_) * 2;
  }
  /// Copies host token ids to the device (the stream orders reuse of the scratch).
  const std::int32_t* device_tokens(std::span<const std::int32_t> t) {
    auto* d = static_cast<std::int32_t*>(tokens_.get(std::max<std::size_t>(t.size(), 1) * sizeof(std::int32_t)));
    if (!t.empty())
      check_cuda(cudaMemcpyAsync(d, t.data(), t.size() * sizeof(std::int32_t), cudaMemcpyHostToDevice, stream_),
                 "token upload");
    return d;
  }

  int device_;
  CudaPrecision precision_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  Scratch operands_, tokens_, flag_;
  float* params_ = nullptr;
  std::size_t n_params_ = 0;
  void* shadow_ = nullptr;
  bool stale_ = true;
};

}  // namespace

std::string to_string(CudaPrecision p) {
  switch (p) {
    case CudaPrecision::fp32: return "fp32";
    case CudaPrecision::tf32: return "tf32";
    case CudaPrecision::bf16: return "bf16";
    case CudaPrecision::fp16: return "fp16";
  }
  return "?";
}

int cuda_device_count(std::string* error) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    if (error != nullptr) *error = cudaGetErrorString(e);
    cudaGetLastError();  // clear it
    return 0;
  }
  if (count == 0 && error != nullptr) *error = "cudaGetDeviceCount returned 0";
  return count;
}

int select_cuda_device(MPI_Comm world) {
  MPI_Comm node = MPI_COMM_NULL;
  int world_rank = 0;
  check_mpi(MPI_Comm_rank(world, &world_rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  int local = 0, local_size = 1;
  MPI_Comm_rank(node, &local);
  MPI_Comm_size(node, &local_size);
  MPI_Comm_free(&node);
  std::string error;
  const int count = cuda_device_count(&error);
  if (count == 0)
    error = "no CUDA device: " + error;
  else if (local_size > count)
    error = "no CUDA device: " + std::to_string(local_size) + " ranks on this node but " + std::to_string(count) +
            " CUDA device(s); the cuda backend runs one rank per GPU";
  int ok = error.empty() ? 1 : 0;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, world), "MPI_Allreduce");
  if (!error.empty()) throw std::runtime_error(error);
  if (ok == 0) throw std::runtime_error("no CUDA device: another rank has none (or too few for its node's ranks)");
  return local;
}

std::unique_ptr<ComputeBackend> make_cuda_backend(int device, CudaPrecision precision) {
  return std::make_unique<CudaBackend>(device, precision);
}

void* cuda_stream_of(ComputeBackend& backend) {
  auto* cb = dynamic_cast<CudaBackend*>(&backend);
  return cb != nullptr ? static_cast<void*>(cb->stream()) : nullptr;
}

CudaEventTimer::CudaEventTimer(ComputeBackend& backend) : stream_(cuda_stream_of(backend)) {
  if (stream_ == nullptr) throw std::invalid_argument("CudaEventTimer: not a CUDA backend");
  cudaEvent_t a = nullptr, b = nullptr;
  check_cuda(cudaEventCreate(&a), "cudaEventCreate");
  check_cuda(cudaEventCreate(&b), "cudaEventCreate");
  start_ = a;
  stop_ = b;
}
CudaEventTimer::~CudaEventTimer() {
  cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}
void CudaEventTimer::start() {
  check_cuda(cudaEventRecord(static_cast<cudaEvent_t>(start_), static_cast<cudaStream_t>(stream_)), "cudaEventRecord");
}
double CudaEventTimer::stop() {
  auto* e = static_cast<cudaEvent_t>(stop_);
  check_cuda(cudaEventRecord(e, static_cast<cudaStream_t>(stream_)), "cudaEventRecord");
  check_cuda(cudaEventSynchronize(e), "cudaEventSynchronize");
  float ms = 0;
  check_cuda(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), e), "cudaEventElapsedTime");
  return static_cast<double>(ms) * 1e-3;
}

}  // namespace hpsim::exec
