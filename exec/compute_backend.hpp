#pragma once
/// The compute-backend interface: the kernels a GPT training step needs, on device buffers (CPU now, CUDA later).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>

namespace hpsim::exec {

/// Adam's hyper-parameters (Megatron's defaults but a larger learning rate for short runs).
struct AdamConfig {
  float lr = 1e-3F, beta1 = 0.9F, beta2 = 0.999F, eps = 1e-8F, weight_decay = 0.0F;
};

/// Kernels on device memory. Pointers are device pointers; matrices are row-major. Arrays named `tokens` are host
/// arrays (a device backend copies them). Every `..._grad`/`d...` output that says "accumulates" adds into it.
class ComputeBackend {
 public:
  virtual ~ComputeBackend() = default;
  [[nodiscard]] virtual std::string name() const = 0;

  /// n floats, zero-filled.
  virtual float* allocate(std::size_t n) = 0;
  virtual void release(float* p) noexcept = 0;
  virtual void upload(float* dst, const float* host, std::size_t n) = 0;
  virtual void download(float* host, const float* src, std::size_t n) = 0;
  /// Blocks until every queued kernel has finished (timing).
  virtual void synchronize() = 0;
  /// The flat fp32 (master) parameter buffer, told once it is filled. A mixed-precision backend keeps a 16-bit copy
  /// of it for its GEMMs, refreshed after the backend's own writes into it (adam, upload, copy, fill, axpy). Default:
  /// nothing.
  virtual void register_parameters(float* /*params*/, std::size_t /*n*/) {}

  virtual void copy(float* dst, const float* src, std::size_t n) = 0;
  virtual void fill(float* x, float value, std::size_t n) = 0;
  /// y += a * x
  virtual void axpy(float* y, float a, const float* x, std::size_t n) = 0;
  /// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C (row-major, leading dimensions as stored).
  virtual void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                    const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                    std::int64_t ldc) = 0;
  /// `batch` GEMMs at once: the i-th with A at a + i * stride_a, B at b + i * stride_b, C at c + i * stride_c (the
  /// attention core's per-head products; matrices may interleave, e.g. heads side by side in a row).
  virtual void gemm_batched(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                            const float* a, std::int64_t lda, std::int64_t stride_a, const float* b, std::int64_t ldb,
                            std::int64_t stride_b, float beta, float* c, std::int64_t ldc, std::int64_t stride_c,
                            std::int64_t batch) = 0;
  /// y[r, :] += bias
  virtual void add_bias(float* y, const float* bias, std::int64_t rows, std::int64_t cols) = 0;
  /// dbias += column sums of dy (accumulates)
  virtual void bias_grad(float* dbias, const float* dy, std::int64_t rows, std::int64_t cols) = 0;
  /// y = (x - mean) * rstd * gamma + beta per row; keeps mean and rstd (rows each) for backward.
  virtual void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                                 float* rstd, std::int64_t rows, std::int64_t cols, float eps) = 0;
  /// dx = input gradient (overwritten); dgamma, dbeta accumulate.
  virtual void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                                  const float* rstd, float* dx, float* dgamma, float* dbeta, std::int64_t rows,
                                  std::int64_t cols) = 0;
  /// RMSNorm (LLaMA's): y = x * rstd * gamma per row, rstd = 1 / sqrt(mean(x^2) + eps); keeps rstd for backward.
  virtual void rmsnorm_forward(const float* x, const float* gamma, float* y, float* rstd, std::int64_t rows,
                               std::int64_t cols, float eps) = 0;
  /// dx = input gradient (overwritten); dgamma accumulates.
  virtual void rmsnorm_backward(const float* dy, const float* x, const float* gamma, const float* rstd, float* dx,
                                float* dgamma, std::int64_t rows, std::int64_t cols) = 0;
  /// SwiGLU: x [rows, 2 * cols] holds [gate | up] per row; y [rows, cols] = silu(gate) * up.
  virtual void swiglu_forward(const float* x, float* y, std::int64_t rows, std::int64_t cols) = 0;
  /// dx [rows, 2 * cols] = the gradients of gate and up (overwritten) from dy [rows, cols].
  virtual void swiglu_backward(const float* x, const float* dy, float* dx, std::int64_t rows, std::int64_t cols) = 0;
  /// Rotary position embedding in place, on `heads` heads of `head_dim` values at the start of each of `rows` rows
  /// (`row_stride` floats apart); row r is at position first_position + r % seq. Pairs (i, i + head_dim/2) turn by
  /// the angle position * base^(-2i / head_dim) (GPT-NeoX / LLaMA's rotate-half); `inverse` turns back (backward).
  virtual void rope(float* x, std::int64_t rows, std::int64_t row_stride, std::int64_t heads, std::int64_t head_dim,
                    std::int64_t seq, std::int64_t first_position, float base, bool inverse) = 0;
  /// GELU, tanh approximation (Megatron's).
  virtual void gelu_forward(const float* x, float* y, std::size_t n) = 0;
  /// dx = dy * gelu'(x) (overwritten)
  virtual void gelu_backward(const float* x, const float* dy, float* dx, std::size_t n) = 0;
  /// In place over `batch` matrices [rows, cols]: p = softmax(scale * scores), row i seeing columns j <= offset + i
  /// only (causal: the queries at positions offset.. of the keys 0..; the rest of the row is set to 0).
  virtual void causal_softmax_forward(float* scores, std::int64_t batch, std::int64_t rows, std::int64_t cols,
                                      std::int64_t offset, float scale) = 0;
  /// Over `rows` rows of `cols`: ds = scale * p * (dp - rowsum(p * dp)) (overwritten; ds may alias dp)
  virtual void softmax_backward(const float* p, const float* dp, float* ds, std::int64_t rows, std::int64_t cols,
                                float scale) = 0;
  /// dst[r * ld_dst + c] = src[r * ld_src + c] for r < rows, c < cols (a block of a matrix).
  virtual void copy_rows(float* dst, std::int64_t ld_dst, const float* src, std::int64_t ld_src, std::int64_t rows,
                         std::int64_t cols) = 0;
  /// out[t, :] = table[tokens[t] - first_row, :] when the token is one of this shard's rows, else 0.
  virtual void embedding_forward(std::span<const std::int32_t> tokens, const float* table, std::int64_t first_row,
                                 std::int64_t rows, std::int64_t cols, float* out) = 0;
  /// dtable[tokens[t] - first_row, :] += dy[t, :] for the shard's tokens (accumulates).
  virtual void embedding_backward(std::span<const std::int32_t> tokens, const float* dy, std::int64_t first_row,
                                  std::int64_t rows, std::int64_t cols, float* dtable) = 0;
  /// x[b, s, :] += pos[s, :]
  virtual void add_positions(float* x, const float* pos, std::int64_t batch, std::int64_t seq, std::int64_t cols) = 0;
  /// dpos[s, :] += sum over b of dx[b, s, :] (accumulates)
  virtual void position_grad(float* dpos, const float* dx, std::int64_t batch, std::int64_t seq,
                             std::int64_t cols) = 0;
  /// Vocab-parallel cross-entropy pieces over logits [rows, cols] holding vocabulary [first_col, first_col+cols).
  virtual void row_max(const float* x, std::int64_t rows, std::int64_t cols, float* out) = 0;
  virtual void row_sum_exp(const float* x, const float* max, std::int64_t rows, std::int64_t cols, float* out) = 0;
  /// out[r] = x[r, targets[r] - first_col] when in this shard, else 0.
  virtual void pick_targets(const float* x, std::span<const std::int32_t> targets, std::int64_t cols,
                            std::int64_t first_col, float* out) = 0;
  /// dx = scale * (softmax(x) - onehot(target)) with the global max and sum of exponentials.
  virtual void cross_entropy_backward(const float* x, const float* max, const float* sum_exp,
                                      std::span<const std::int32_t> targets, std::int64_t cols,
                                      std::int64_t first_col, float scale, float* dx) = 0;
  /// One Adam step (1-based `step`, bias-corrected) on n parameters, on the gradients times `grad_scale` (1 / the
  /// loss scale under fp16 loss scaling, else 1).
  virtual void adam(float* param, const float* grad, float* m, float* v, std::size_t n, const AdamConfig& config,
                    std::int64_t step, float grad_scale) = 0;
  /// Whether all n values are finite (no inf, no NaN): loss scaling's overflow check. Waits for the result.
  [[nodiscard]] virtual bool all_finite(const float* x, std::size_t n) = 0;
};

/// An owned device buffer of floats.
class Buffer {
 public:
  Buffer() = default;
  Buffer(ComputeBackend& backend, std::size_t n) : backend_(&backend), data_(backend.allocate(n)), size_(n) {}
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    Buffer tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() {
    if (data_ != nullptr) backend_->release(data_);
  }
  [[nodiscard]] float* data() const { return data_; }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  void swap(Buffer& o) noexcept {
    std::swap(backend_, o.backend_);
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
  }
  ComputeBackend* backend_ = nullptr;
  float* data_ = nullptr;
  std::size_t size_ = 0;
};

/// The CPU backend (OpenBLAS sgemm, one thread per rank).
std::unique_ptr<ComputeBackend> make_cpu_backend();

}  // namespace hpsim::exec
