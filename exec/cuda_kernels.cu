// The CUDA backend's kernels: simple and correct (one block per row for row-wise work, grid-stride loops for
// element-wise work, blocked column sums with one atomic per block and column), fp32 throughout.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cfloat>

#include "exec/cuda_kernels.hpp"

namespace hpsim::exec::cuda {

namespace {

constexpr int kThreads = 256;
constexpr float kGeluC = 0.7978845608028654F;  // sqrt(2/pi)

unsigned blocks_for(std::size_t n) {
  const std::size_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<std::size_t>(1, std::min<std::size_t>(b, 65535U * 8U)));
}

/// Threads per block for one-block-per-row kernels: a multiple of 32, at most 256.
unsigned row_threads(i64 cols) {
  const i64 t = std::min<i64>(kThreads, (cols + 31) / 32 * 32);
  return static_cast<unsigned>(std::max<i64>(32, t));
}

/// `op` over the block (blockDim.x a multiple of 32) from `identity`; every thread gets the result.
template <typename Op>
__device__ float block_reduce(float v, float identity, Op op) {
  __shared__ float part[32];
  __shared__ float total;
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffU, v, o));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();  // part/total may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float w = lane < static_cast<int>(blockDim.x / 32) ? part[lane] : identity;
    for (int o = 16; o > 0; o >>= 1) w = op(w, __shfl_xor_sync(0xffffffffU, w, o));
    if (lane == 0) total = w;
  }
  __syncthreads();
  return total;
}
struct Add {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
__device__ float block_sum(float v) { return block_reduce(v, 0.0F, Add{}); }
__device__ float block_max(float v) { return block_reduce(v, -FLT_MAX, Max{}); }

#define GRID_STRIDE(i, n) \
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)

template <typename T>
__device__ T from_float(float v);
template <>
__device__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}

template <typename T>
__global__ void cast_2d_kernel(const float* src, i64 ld, i64 rows, i64 cols, T* dst) {
  const auto n = static_cast<std::size_t>(rows * cols);
  GRID_STRIDE(i, n) {
    const i64 r = static_cast<i64>(i) / cols, c = static_cast<i64>(i) % cols;
    dst[i] = from_float<T>(src[r * ld + c]);
  }
}

__global__ void fill_kernel(float* x, float value, std::size_t n) {
  GRID_STRIDE(i, n) x[i] = value;
}
__global__ void axpy_kernel(float* y, float a, const float* x, std::size_t n) {
  GRID_STRIDE(i, n) y[i] += a * x[i];
}
__global__ void add_bias_kernel(float* y, const float* bias, i64 cols, std::size_t n) {
  GRID_STRIDE(i, n) y[i] += bias[static_cast<i64>(i) % cols];
}

// Column sums: block (32, 8) covers 32 columns and a chunk of kChunk rows; one atomicAdd per block and column.
constexpr int kChunk = 256;
__global__ void bias_grad_kernel(float* db, const float* dy, i64 rows, i64 cols) {
  __shared__ float part[8][33];
  const i64 c = blockIdx.x * 32 + threadIdx.x;
  const i64 r0 = static_cast<i64>(blockIdx.y) * kChunk, r1 = min(rows, r0 + kChunk);
  float s = 0;
  if (c < cols)
    for (i64 r = r0 + threadIdx.y; r < r1; r += 8) s += dy[r * cols + c];
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float t = 0;
    for (int k = 0; k < 8; ++k) t += part[k][threadIdx.x];
    atomicAdd(db + c, t);
  }
}
// LayerNorm's dgamma and dbeta; RMSNorm's dgamma with mean and db null (no centring, no beta).
__global__ void norm_param_grad_kernel(const float* dy, const float* x, const float* mean, const float* rstd,
                                       float* dg, float* db, i64 rows, i64 cols) {
  __shared__ float pg[8][33], pb[8][33];
  const i64 c = blockIdx.x * 32 + threadIdx.x;
  const i64 r0 = static_cast<i64>(blockIdx.y) * kChunk, r1 = min(rows, r0 + kChunk);
  float sg = 0, sb = 0;
  if (c < cols)
    for (i64 r = r0 + threadIdx.y; r < r1; r += 8) {
      const float d = dy[r * cols + c];
      sg += d * (x[r * cols + c] - (mean != nullptr ? mean[r] : 0.0F)) * rstd[r];
      sb += d;
    }
  pg[threadIdx.y][threadIdx.x] = sg;
  pb[threadIdx.y][threadIdx.x] = sb;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float tg = 0, tb = 0;
    for (int k = 0; k < 8; ++k) {
      tg += pg[k][threadIdx.x];
      tb += pb[k][threadIdx.x];
    }
    atomicAdd(dg + c, tg);
    if (db != nullptr) atomicAdd(db + c, tb);
  }
}

__global__ void layernorm_forward_kernel(const float* x, const float* g, const float* b, float* y, float* mean,
                                         float* rstd, i64 cols, float eps) {
  const i64 r = blockIdx.x;
  const float* xr = x + r * cols;
  float s = 0;
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x) s += xr[c];
  const float mu = block_sum(s) / static_cast<float>(cols);
  float v = 0;
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x) v += (xr[c] - mu) * (xr[c] - mu);
  const float rs = rsqrtf(block_sum(v) / static_cast<float>(cols) + eps);
  if (threadIdx.x == 0) {
    mean[r] = mu;
    rstd[r] = rs;
  }
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x) y[r * cols + c] = (xr[c] - mu) * rs * g[c] + b[c];
}

__global__ void layernorm_backward_dx_kernel(const float* dy, const float* x, const float* g, const float* mean,
                                             const float* rstd, float* dx, i64 cols) {
  const i64 r = blockIdx.x;
  const float mu = mean[r], rs = rstd[r];
  float s1 = 0, s2 = 0;
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x) {
    const float xhat = (x[r * cols + c] - mu) * rs, dxhat = dy[r * cols + c] * g[c];
    s1 += dxhat;
    s2 += dxhat * xhat;
  }
  s1 = block_sum(s1) / static_cast<float>(cols);
  s2 = block_sum(s2) / static_cast<float>(cols);
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x) {
    const float xhat = (x[r * cols + c] - mu) * rs, dxhat = dy[r * cols + c] * g[c];
    dx[r * cols + c] = rs * (dxhat - s1 - xhat * s2);
  }
}

__global__ void rmsnorm_forward_kernel(const float* x, const float* g, float* y, float* rstd, i64 cols, float eps) {
  const i64 r = blockIdx.x;
  const float* xr = x + r * cols;
  float ss = 0;
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x) ss += xr[c] * xr[c];
  const float rs = rsqrtf(block_sum(ss) / static_cast<float>(cols) + eps);
  if (threadIdx.x == 0) rstd[r] = rs;
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x) y[r * cols + c] = xr[c] * rs * g[c];
}
__global__ void rmsnorm_backward_dx_kernel(const float* dy, const float* x, const float* g, const float* rstd,
                                           float* dx, i64 cols) {
  const i64 r = blockIdx.x;
  const float rs = rstd[r];
  float dot = 0;
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x) dot += g[c] * dy[r * cols + c] * x[r * cols + c];
  const float k = rs * rs * block_sum(dot) / static_cast<float>(cols);
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x)
    dx[r * cols + c] = rs * (g[c] * dy[r * cols + c] - x[r * cols + c] * k);
}

__global__ void swiglu_forward_kernel(const float* x, float* y, i64 cols, std::size_t n) {
  GRID_STRIDE(i, n) {
    const i64 r = static_cast<i64>(i) / cols, c = static_cast<i64>(i) % cols;
    const float a = x[r * 2 * cols + c], b = x[r * 2 * cols + cols + c];
    y[i] = a / (1.0F + __expf(-a)) * b;
  }
}
__global__ void swiglu_backward_kernel(const float* x, const float* dy, float* dx, i64 cols, std::size_t n) {
  GRID_STRIDE(i, n) {
    const i64 r = static_cast<i64>(i) / cols, c = static_cast<i64>(i) % cols;
    const float a = x[r * 2 * cols + c], b = x[r * 2 * cols + cols + c], d = dy[i];
    const float sig = 1.0F / (1.0F + __expf(-a));
    dx[r * 2 * cols + c] = d * b * sig * (1.0F + a * (1.0F - sig));
    dx[r * 2 * cols + cols + c] = d * a * sig;
  }
}
// One thread per (row, pair index i, head): n = rows * half * heads.
__global__ void rope_kernel(float* x, i64 row_stride, i64 heads, i64 head_dim, i64 seq, i64 first_position,
                            float base, bool inverse, std::size_t n) {
  const i64 half = head_dim / 2;
  GRID_STRIDE(k, n) {
    const i64 h = static_cast<i64>(k) % heads, i = (static_cast<i64>(k) / heads) % half;
    const i64 r = static_cast<i64>(k) / (heads * half);
    const double angle = static_cast<double>(first_position + r % seq) *
                         pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    const float c = static_cast<float>(cos(angle)), s = static_cast<float>(inverse ? -sin(angle) : sin(angle));
    float* v = x + r * row_stride + h * head_dim;
    const float a = v[i], b = v[i + half];
    v[i] = a * c - b * s;
    v[i + half] = b * c + a * s;
  }
}

__global__ void gelu_forward_kernel(const float* x, float* y, std::size_t n) {
  GRID_STRIDE(i, n) {
    const float v = x[i];
    y[i] = 0.5F * v * (1.0F + tanhf(kGeluC * (v + 0.044715F * v * v * v)));
  }
}
__global__ void gelu_backward_kernel(const float* x, const float* dy, float* dx, std::size_t n) {
  GRID_STRIDE(i, n) {
    const float v = x[i];
    const float t = tanhf(kGeluC * (v + 0.044715F * v * v * v));
    const float dt = (1.0F - t * t) * kGeluC * (1.0F + 3.0F * 0.044715F * v * v);
    dx[i] = dy[i] * (0.5F * (1.0F + t) + 0.5F * v * dt);
  }
}

// One block per row of the batch * rows rows; row i of each matrix keeps columns [0, offset + i].
__global__ void causal_softmax_kernel(float* scores, i64 rows, i64 cols, i64 offset, float scale) {
  const i64 row = blockIdx.x, last = min(cols - 1, offset + row % rows);
  float* p = scores + row * cols;
  float mx = -FLT_MAX;
  for (i64 j = threadIdx.x; j <= last; j += blockDim.x) mx = fmaxf(mx, p[j] * scale);
  mx = block_max(mx);
  float sum = 0;
  for (i64 j = threadIdx.x; j <= last; j += blockDim.x) {
    const float e = __expf(p[j] * scale - mx);
    p[j] = e;
    sum += e;
  }
  const float inv = 1.0F / block_sum(sum);
  for (i64 j = threadIdx.x; j < cols; j += blockDim.x) p[j] = j <= last ? p[j] * inv : 0.0F;
}
__global__ void softmax_backward_kernel(const float* p, const float* dp, float* ds, i64 cols, float scale) {
  const i64 row = blockIdx.x;
  float dot = 0;
  for (i64 j = threadIdx.x; j < cols; j += blockDim.x) dot += p[row * cols + j] * dp[row * cols + j];
  dot = block_sum(dot);  // every thread has read its dp before ds (which may alias dp) is written
  for (i64 j = threadIdx.x; j < cols; j += blockDim.x)
    ds[row * cols + j] = scale * p[row * cols + j] * (dp[row * cols + j] - dot);
}

__global__ void embedding_forward_kernel(const std::int32_t* tokens, const float* table, i64 first_row, i64 rows,
                                         i64 cols, float* out) {
  const i64 t = blockIdx.x, r = tokens[t] - first_row;
  const bool mine = r >= 0 && r < rows;
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x) out[t * cols + c] = mine ? table[r * cols + c] : 0.0F;
}
__global__ void embedding_backward_kernel(const std::int32_t* tokens, const float* dy, i64 first_row, i64 rows,
                                          i64 cols, float* dtable) {
  const i64 t = blockIdx.x, r = tokens[t] - first_row;
  if (r < 0 || r >= rows) return;
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x) atomicAdd(dtable + r * cols + c, dy[t * cols + c]);
}
__global__ void add_positions_kernel(float* x, const float* pos, std::size_t per_sample, std::size_t n) {
  GRID_STRIDE(i, n) x[i] += pos[i % per_sample];
}
__global__ void position_grad_kernel(float* dpos, const float* dx, i64 batch, std::size_t per_sample) {
  GRID_STRIDE(i, per_sample) {
    float s = 0;
    for (i64 b = 0; b < batch; ++b) s += dx[b * per_sample + i];
    dpos[i] += s;
  }
}

__global__ void row_max_kernel(const float* x, i64 cols, float* out) {
  const i64 r = blockIdx.x;
  float m = -FLT_MAX;
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, x[r * cols + c]);
  m = block_max(m);
  if (threadIdx.x == 0) out[r] = m;
}
__global__ void row_sum_exp_kernel(const float* x, const float* max, i64 cols, float* out) {
  const i64 r = blockIdx.x;
  float s = 0;
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x) s += expf(x[r * cols + c] - max[r]);
  s = block_sum(s);
  if (threadIdx.x == 0) out[r] = s;
}
__global__ void pick_targets_kernel(const float* x, const std::int32_t* targets, i64 rows, i64 cols, i64 first_col,
                                    float* out) {
  GRID_STRIDE(i, static_cast<std::size_t>(rows)) {
    const i64 c = targets[i] - first_col;
    out[i] = (c >= 0 && c < cols) ? x[static_cast<i64>(i) * cols + c] : 0.0F;
  }
}
__global__ void cross_entropy_backward_kernel(const float* x, const float* max, const float* sum_exp,
                                              const std::int32_t* targets, i64 cols, i64 first_col, float scale,
                                              float* dx) {
  const i64 r = blockIdx.x, tc = targets[r] - first_col;
  const float inv = 1.0F / sum_exp[r], mx = max[r];
  for (i64 c = threadIdx.x; c < cols; c += blockDim.x)
    dx[r * cols + c] = scale * expf(x[r * cols + c] - mx) * inv - (c == tc ? scale : 0.0F);
}

__global__ void adam_kernel(float* p, const float* g, float* m, float* v, std::size_t n, float lr, float b1, float b2,
                            float eps, float wd, float bc1, float bc2, float grad_scale) {
  GRID_STRIDE(i, n) {
    const float gi = g[i] * grad_scale;
    const float mi = b1 * m[i] + (1.0F - b1) * gi;
    const float vi = b2 * v[i] + (1.0F - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + wd * p[i]);
  }
}

__global__ void flag_non_finite_kernel(const float* x, std::size_t n, int* flag) {
  bool bad = false;
  GRID_STRIDE(i, n) bad = bad || !isfinite(x[i]);
  if (bad) *flag = 1;  // any writer will do: every one writes 1
}

dim3 column_grid(i64 rows, i64 cols) {
  return dim3(static_cast<unsigned>((cols + 31) / 32), static_cast<unsigned>(std::max<i64>(1, (rows + kChunk - 1) / kChunk)));
}

}  // namespace

void cast_2d(const float* src, i64 ld, i64 rows, i64 cols, void* dst, Half16 type, cudaStream_t stream) {
  const auto n = static_cast<std::size_t>(rows * cols);
  if (n == 0) return;
  if (type == Half16::bf16)
    cast_2d_kernel<<<blocks_for(n), kThreads, 0, stream>>>(src, ld, rows, cols, static_cast<__nv_bfloat16*>(dst));
  else
    cast_2d_kernel<<<blocks_for(n), kThreads, 0, stream>>>(src, ld, rows, cols, static_cast<__half*>(dst));
}
void fill(float* x, float value, std::size_t n, cudaStream_t stream) {
  if (n > 0) fill_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, value, n);
}
void axpy(float* y, float a, const float* x, std::size_t n, cudaStream_t stream) {
  if (n > 0) axpy_kernel<<<blocks_for(n), kThreads, 0, stream>>>(y, a, x, n);
}
void add_bias(float* y, const float* bias, i64 rows, i64 cols, cudaStream_t stream) {
  const auto n = static_cast<std::size_t>(rows * cols);
  if (n > 0) add_bias_kernel<<<blocks_for(n), kThreads, 0, stream>>>(y, bias, cols, n);
}
void bias_grad(float* dbias, const float* dy, i64 rows, i64 cols, cudaStream_t stream) {
  if (rows > 0 && cols > 0) bias_grad_kernel<<<column_grid(rows, cols), dim3(32, 8), 0, stream>>>(dbias, dy, rows, cols);
}
void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       i64 rows, i64 cols, float eps, cudaStream_t stream) {
  if (rows > 0)
    layernorm_forward_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, stream>>>(x, gamma, beta, y, mean,
                                                                                            rstd, cols, eps);
}
void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                        float* dx, float* dgamma, float* dbeta, i64 rows, i64 cols, cudaStream_t stream) {
  if (rows == 0) return;
  norm_param_grad_kernel<<<column_grid(rows, cols), dim3(32, 8), 0, stream>>>(dy, x, mean, rstd, dgamma, dbeta, rows,
                                                                              cols);
  layernorm_backward_dx_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, stream>>>(dy, x, gamma, mean,
                                                                                              rstd, dx, cols);
}
void rmsnorm_forward(const float* x, const float* gamma, float* y, float* rstd, i64 rows, i64 cols, float eps,
                     cudaStream_t stream) {
  if (rows > 0)
    rmsnorm_forward_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, stream>>>(x, gamma, y, rstd, cols, eps);
}
void rmsnorm_backward(const float* dy, const float* x, const float* gamma, const float* rstd, float* dx, float* dgamma,
                      i64 rows, i64 cols, cudaStream_t stream) {
  if (rows == 0) return;
  norm_param_grad_kernel<<<column_grid(rows, cols), dim3(32, 8), 0, stream>>>(dy, x, nullptr, rstd, dgamma, nullptr,
                                                                              rows, cols);
  rmsnorm_backward_dx_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, stream>>>(dy, x, gamma, rstd, dx,
                                                                                            cols);
}
void swiglu_forward(const float* x, float* y, i64 rows, i64 cols, cudaStream_t stream) {
  const auto n = static_cast<std::size_t>(rows * cols);
  if (n > 0) swiglu_forward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, y, cols, n);
}
void swiglu_backward(const float* x, const float* dy, float* dx, i64 rows, i64 cols, cudaStream_t stream) {
  const auto n = static_cast<std::size_t>(rows * cols);
  if (n > 0) swiglu_backward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, dy, dx, cols, n);
}
void rope(float* x, i64 rows, i64 row_stride, i64 heads, i64 head_dim, i64 seq, i64 first_position, float base,
          bool inverse, cudaStream_t stream) {
  const auto n = static_cast<std::size_t>(rows * heads * (head_dim / 2));
  if (n > 0)
    rope_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, row_stride, heads, head_dim, seq, first_position, base,
                                                        inverse, n);
}
void gelu_forward(const float* x, float* y, std::size_t n, cudaStream_t stream) {
  if (n > 0) gelu_forward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, y, n);
}
void gelu_backward(const float* x, const float* dy, float* dx, std::size_t n, cudaStream_t stream) {
  if (n > 0) gelu_backward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, dy, dx, n);
}
void causal_softmax_forward(float* scores, i64 batch, i64 rows, i64 cols, i64 offset, float scale,
                            cudaStream_t stream) {
  if (batch * rows > 0)
    causal_softmax_kernel<<<static_cast<unsigned>(batch * rows), row_threads(cols), 0, stream>>>(scores, rows, cols,
                                                                                                offset, scale);
}
void softmax_backward(const float* p, const float* dp, float* ds, i64 rows, i64 cols, float scale,
                      cudaStream_t stream) {
  if (rows > 0)
    softmax_backward_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, stream>>>(p, dp, ds, cols, scale);
}
void embedding_forward(const std::int32_t* tokens, i64 n, const float* table, i64 first_row, i64 rows, i64 cols,
                       float* out, cudaStream_t stream) {
  if (n > 0)
    embedding_forward_kernel<<<static_cast<unsigned>(n), row_threads(cols), 0, stream>>>(tokens, table, first_row,
                                                                                         rows, cols, out);
}
void embedding_backward(const std::int32_t* tokens, i64 n, const float* dy, i64 first_row, i64 rows, i64 cols,
                        float* dtable, cudaStream_t stream) {
  if (n > 0)
    embedding_backward_kernel<<<static_cast<unsigned>(n), row_threads(cols), 0, stream>>>(tokens, dy, first_row,
                                                                                          rows, cols, dtable);
}
void add_positions(float* x, const float* pos, i64 batch, i64 seq, i64 cols, cudaStream_t stream) {
  const auto per = static_cast<std::size_t>(seq * cols), n = per * static_cast<std::size_t>(batch);
  if (n > 0) add_positions_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, pos, per, n);
}
void position_grad(float* dpos, const float* dx, i64 batch, i64 seq, i64 cols, cudaStream_t stream) {
  const auto per = static_cast<std::size_t>(seq * cols);
  if (per > 0) position_grad_kernel<<<blocks_for(per), kThreads, 0, stream>>>(dpos, dx, batch, per);
}
void row_max(const float* x, i64 rows, i64 cols, float* out, cudaStream_t stream) {
  if (rows > 0) row_max_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, stream>>>(x, cols, out);
}
void row_sum_exp(const float* x, const float* max, i64 rows, i64 cols, float* out, cudaStream_t stream) {
  if (rows > 0) row_sum_exp_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, stream>>>(x, max, cols, out);
}
void pick_targets(const float* x, const std::int32_t* targets, i64 rows, i64 cols, i64 first_col, float* out,
                  cudaStream_t stream) {
  if (rows > 0)
    pick_targets_kernel<<<blocks_for(static_cast<std::size_t>(rows)), kThreads, 0, stream>>>(x, targets, rows, cols,
                                                                                             first_col, out);
}
void cross_entropy_backward(const float* x, const float* max, const float* sum_exp, const std::int32_t* targets,
                            i64 rows, i64 cols, i64 first_col, float scale, float* dx, cudaStream_t stream) {
  if (rows > 0)
    cross_entropy_backward_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, stream>>>(
        x, max, sum_exp, targets, cols, first_col, scale, dx);
}
void adam(float* param, const float* grad, float* m, float* v, std::size_t n, float lr, float beta1, float beta2,
          float eps, float weight_decay, float bias_correction1, float bias_correction2, float grad_scale,
          cudaStream_t stream) {
  if (n > 0)
    adam_kernel<<<blocks_for(n), kThreads, 0, stream>>>(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay,
                                                         bias_correction1, bias_correction2, grad_scale);
}
void flag_non_finite(const float* x, std::size_t n, int* flag, cudaStream_t stream) {
  if (n > 0) flag_non_finite_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, n, flag);
}

}  // namespace hpsim::exec::cuda
