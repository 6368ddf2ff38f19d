#pragma once
/// Launchers of the CUDA backend's kernels (exec/cuda_kernels.cu). Every pointer is a device pointer, every launch is
/// asynchronous on `stream`; matrices are row-major. Only built with HPSIM_BUILD_CUDA.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace hpsim::exec::cuda {

using i64 = std::int64_t;

/// 16-bit formats the GEMM operands are cast to.
enum class Half16 { bf16, fp16 };

/// dst[r, c] (packed, row length cols, 16-bit) = src[r * ld + c] (fp32)
void cast_2d(const float* src, i64 ld, i64 rows, i64 cols, void* dst, Half16 type, cudaStream_t stream);
void fill(float* x, float value, std::size_t n, cudaStream_t stream);
void axpy(float* y, float a, const float* x, std::size_t n, cudaStream_t stream);
void add_bias(float* y, const float* bias, i64 rows, i64 cols, cudaStream_t stream);
void bias_grad(float* dbias, const float* dy, i64 rows, i64 cols, cudaStream_t stream);
void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       i64 rows, i64 cols, float eps, cudaStream_t stream);
/// dx overwritten; dgamma, dbeta accumulate (column sums over rows, no atomics).
void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                        float* dx, float* dgamma, float* dbeta, i64 rows, i64 cols, cudaStream_t stream);
void rmsnorm_forward(const float* x, const float* gamma, float* y, float* rstd, i64 rows, i64 cols, float eps,
                     cudaStream_t stream);
/// dx overwritten; dgamma accumulates.
void rmsnorm_backward(const float* dy, const float* x, const float* gamma, const float* rstd, float* dx, float* dgamma,
                      i64 rows, i64 cols, cudaStream_t stream);
/// x [rows, 2 cols] = [gate | up]; y [rows, cols].
void swiglu_forward(const float* x, float* y, i64 rows, i64 cols, cudaStream_t stream);
void swiglu_backward(const float* x, const float* dy, float* dx, i64 rows, i64 cols, cudaStream_t stream);
/// In place; see ComputeBackend::rope.
void rope(float* x, i64 rows, i64 row_stride, i64 heads, i64 head_dim, i64 seq, i64 first_position, float base,
          bool inverse, cudaStream_t stream);
void gelu_forward(const float* x, float* y, std::size_t n, cudaStream_t stream);
void gelu_backward(const float* x, const float* dy, float* dx, std::size_t n, cudaStream_t stream);
void causal_softmax_forward(float* scores, i64 batch, i64 rows, i64 cols, i64 offset, float scale,
                            cudaStream_t stream);
/// Over `rows` rows of `cols` (ds may alias dp).
void softmax_backward(const float* p, const float* dp, float* ds, i64 rows, i64 cols, float scale, cudaStream_t stream);
/// tokens: device array of n int32.
void embedding_forward(const std::int32_t* tokens, i64 n, const float* table, i64 first_row, i64 rows, i64 cols,
                       float* out, cudaStream_t stream);
/// Atomic adds (tokens repeat).
void embedding_backward(const std::int32_t* tokens, i64 n, const float* dy, i64 first_row, i64 rows, i64 cols,
                        float* dtable, cudaStream_t stream);
void add_positions(float* x, const float* pos, i64 batch, i64 seq, i64 cols, cudaStream_t stream);
void position_grad(float* dpos, const float* dx, i64 batch, i64 seq, i64 cols, cudaStream_t stream);
void row_max(const float* x, i64 rows, i64 cols, float* out, cudaStream_t stream);
void row_sum_exp(const float* x, const float* max, i64 rows, i64 cols, float* out, cudaStream_t stream);
void pick_targets(const float* x, const std::int32_t* targets, i64 rows, i64 cols, i64 first_col, float* out,
                  cudaStream_t stream);
void cross_entropy_backward(const float* x, const float* max, const float* sum_exp, const std::int32_t* targets,
                            i64 rows, i64 cols, i64 first_col, float scale, float* dx, cudaStream_t stream);
/// Adam on grad * grad_scale.
void adam(float* param, const float* grad, float* m, float* v, std::size_t n, float lr, float beta1, float beta2,
          float eps, float weight_decay, float bias_correction1, float bias_correction2, float grad_scale,
          cudaStream_t stream);
/// *flag = 1 when any of x[0, n) is inf or NaN (the caller zeroes it first).
void flag_non_finite(const float* x, std::size_t n, int* flag, cudaStream_t stream);

}  // namespace hpsim::exec::cuda
