/// The CPU compute backend: plain loops and OpenBLAS cblas_sgemm (one BLAS thread per rank).
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "exec/compute_backend.hpp"

extern "C" void openblas_set_num_threads(int);

namespace hpsim::exec {

namespace {

using i64 = std::int64_t;

constexpr float kGeluC = 0.7978845608028654F;  // sqrt(2/pi)

class CpuBackend final : public ComputeBackend {
 public:
  CpuBackend() { openblas_set_num_threads(1); }
  [[nodiscard]] std::string name() const override { return "cpu"; }

  float* allocate(std::size_t n) override {
    auto* p = static_cast<float*>(::operator new[](std::max<std::size_t>(n, 1) * sizeof(float), std::align_val_t{64}));
    std::memset(p, 0, std::max<std::size_t>(n, 1) * sizeof(float));
    return p;
  }
  void release(float* p) noexcept override { ::operator delete[](p, std::align_val_t{64}); }
  void upload(float* dst, const float* host, std::size_t n) override { std::memcpy(dst, host, n * sizeof(float)); }
  void download(float* host, const float* src, std::size_t n) override { std::memcpy(host, src, n * sizeof(float)); }
  void synchronize() override {}
  void copy(float* dst, const float* src, std::size_t n) override { std::memcpy(dst, src, n * sizeof(float)); }
  void fill(float* x, float value, std::size_t n) override { std::fill(x, x + n, value); }
  void axpy(float* y, float a, const float* x, std::size_t n) override {
    for (std::size_t i = 0; i < n; ++i) y[i] += a * x[i];
  }

  void gemm(bool ta, bool tb, i64 m, i64 n, i64 k, float alpha, const float* a, i64 lda, const float* b, i64 ldb,
            float beta, float* c, i64 ldc) override {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
                static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
                beta, c, static_cast<int>(ldc));
  }

  void gemm_batched(bool ta, bool tb, i64 m, i64 n, i64 k, float alpha, const float* a, i64 lda, i64 stride_a,
                    const float* b, i64 ldb, i64 stride_b, float beta, float* c, i64 ldc, i64 stride_c,
                    i64 batch) override {
    for (i64 i = 0; i < batch; ++i)
      gemm(ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta, c + i * stride_c, ldc);
  }

  void add_bias(float* y, const float* bias, i64 rows, i64 cols) override {
    for (i64 r = 0; r < rows; ++r)
      for (i64 c = 0; c < cols; ++c) y[r * cols + c] += bias[c];
  }
  void bias_grad(float* db, const float* dy, i64 rows, i64 cols) override {
    for (i64 r = 0; r < rows; ++r)
      for (i64 c = 0; c < cols; ++c) db[c] += dy[r * cols + c];
  }

  void layernorm_forward(const float* x, const float* g, const float* b, float* y, float* mean, float* rstd, i64 rows,
                         i64 cols, float eps) override {
    for (i64 r = 0; r < rows; ++r) {
      const float* xr = x + r * cols;
      double s = 0;
      for (i64 c = 0; c < cols; ++c) s += xr[c];
      const double mu = s / static_cast<double>(cols);
      double v = 0;
      for (i64 c = 0; c < cols; ++c) v += (xr[c] - mu) * (xr[c] - mu);
      const double rs = 1.0 / std::sqrt(v / static_cast<double>(cols) + eps);
      mean[r] = static_cast<float>(mu);
      rstd[r] = static_cast<float>(rs);
      for (i64 c = 0; c < cols; ++c) y[r * cols + c] = static_cast<float>((xr[c] - mu) * rs) * g[c] + b[c];
    }
  }
  void layernorm_backward(const float* dy, const float* x, const float* g, const float* mean, const float* rstd,
                          float* dx, float* dg, float* db, i64 rows, i64 cols) override {
    for (i64 r = 0; r < rows; ++r) {
      const float* xr = x + r * cols;
      const float* dyr = dy + r * cols;
      double s1 = 0, s2 = 0;  // sum(dxhat), sum(dxhat * xhat)
      for (i64 c = 0; c < cols; ++c) {
        const float xhat = (xr[c] - mean[r]) * rstd[r];
        const float dxhat = dyr[c] * g[c];
        s1 += dxhat;
        s2 += dxhat * xhat;
        dg[c] += dyr[c] * xhat;
        db[c] += dyr[c];
      }
      const double n = static_cast<double>(cols);
      for (i64 c = 0; c < cols; ++c) {
        const float xhat = (xr[c] - mean[r]) * rstd[r];
        const float dxhat = dyr[c] * g[c];
        dx[r * cols + c] = static_cast<float>(rstd[r] * (dxhat - s1 / n - xhat * s2 / n));
      }
    }
  }

  void rmsnorm_forward(const float* x, const float* g, float* y, float* rstd, i64 rows, i64 cols, float eps) override {
    for (i64 r = 0; r < rows; ++r) {
      const float* xr = x + r * cols;
      double ss = 0;
      for (i64 c = 0; c < cols; ++c) ss += static_cast<double>(xr[c]) * xr[c];
      const double rs = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
      rstd[r] = static_cast<float>(rs);
      for (i64 c = 0; c < cols; ++c) y[r * cols + c] = static_cast<float>(xr[c] * rs) * g[c];
    }
  }
  void rmsnorm_backward(const float* dy, const float* x, const float* g, const float* rstd, float* dx, float* dg,
                        i64 rows, i64 cols) override {
    for (i64 r = 0; r < rows; ++r) {
      const float* xr = x + r * cols;
      const float* dyr = dy + r * cols;
      const double rs = rstd[r];
      double dot = 0;  // sum(gamma * dy * x)
      for (i64 c = 0; c < cols; ++c) {
        dot += static_cast<double>(g[c]) * dyr[c] * xr[c];
        dg[c] += static_cast<float>(dyr[c] * xr[c] * rs);
      }
      const double k = rs * rs * dot / static_cast<double>(cols);
      for (i64 c = 0; c < cols; ++c) dx[r * cols + c] = static_cast<float>(rs * (g[c] * dyr[c] - xr[c] * k));
    }
  }
  void swiglu_forward(const float* x, float* y, i64 rows, i64 cols) override {
    for (i64 r = 0; r < rows; ++r)
      for (i64 c = 0; c < cols; ++c) {
        const float a = x[r * 2 * cols + c], b = x[r * 2 * cols + cols + c];
        y[r * cols + c] = a / (1.0F + std::exp(-a)) * b;
      }
  }
  void swiglu_backward(const float* x, const float* dy, float* dx, i64 rows, i64 cols) override {
    for (i64 r = 0; r < rows; ++r)
      for (i64 c = 0; c < cols; ++c) {
        const float a = x[r * 2 * cols + c], b = x[r * 2 * cols + cols + c], d = dy[r * cols + c];
        const float sig = 1.0F / (1.0F + std::exp(-a));
        dx[r * 2 * cols + c] = d * b * sig * (1.0F + a * (1.0F - sig));
        dx[r * 2 * cols + cols + c] = d * a * sig;
      }
  }
  void rope(float* x, i64 rows, i64 row_stride, i64 heads, i64 head_dim, i64 seq, i64 first_position, float base,
            bool inverse) override {
    const i64 half = head_dim / 2, positions = std::min(rows, seq);
    rope_cos_.resize(static_cast<std::size_t>(positions * half));  // cached per call, as frameworks cache them
    rope_sin_.resize(rope_cos_.size());
    for (i64 p = 0; p < positions; ++p)
      for (i64 i = 0; i < half; ++i) {
        const double angle = static_cast<double>(first_position + p) * std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) /
                                                                                           static_cast<double>(head_dim));
        rope_cos_[static_cast<std::size_t>(p * half + i)] = static_cast<float>(std::cos(angle));
        rope_sin_[static_cast<std::size_t>(p * half + i)] = static_cast<float>(inverse ? -std::sin(angle) : std::sin(angle));
      }
    for (i64 r = 0; r < rows; ++r) {
      const i64 p = r % seq;
      for (i64 i = 0; i < half; ++i) {
        const float c = rope_cos_[static_cast<std::size_t>(p * half + i)], s = rope_sin_[static_cast<std::size_t>(p * half + i)];
        for (i64 h = 0; h < heads; ++h) {
          float* v = x + r * row_stride + h * head_dim;
          const float a = v[i], b = v[i + half];
          v[i] = a * c - b * s;
          v[i + half] = b * c + a * s;
        }
      }
    }
  }

  void gelu_forward(const float* x, float* y, std::size_t n) override {
    for (std::size_t i = 0; i < n; ++i) {
      const float v = x[i];
      y[i] = 0.5F * v * (1.0F + std::tanh(kGeluC * (v + 0.044715F * v * v * v)));
    }
  }
  void gelu_backward(const float* x, const float* dy, float* dx, std::size_t n) override {
    for (std::size_t i = 0; i < n; ++i) {
      const float v = x[i];
      const float t = std::tanh(kGeluC * (v + 0.044715F * v * v * v));
      const float dt = (1.0F - t * t) * kGeluC * (1.0F + 3.0F * 0.044715F * v * v);
      dx[i] = dy[i] * (0.5F * (1.0F + t) + 0.5F * v * dt);
    }
  }

  void causal_softmax_forward(float* scores, i64 batch, i64 rows, i64 cols, i64 offset, float scale) override {
    for (i64 b = 0; b < batch; ++b)
      for (i64 i = 0; i < rows; ++i) {
        float* row = scores + (b * rows + i) * cols;
        const i64 last = std::min(cols - 1, offset + i);
        float mx = -std::numeric_limits<float>::infinity();
        for (i64 j = 0; j <= last; ++j) mx = std::max(mx, row[j] * scale);
        float sum = 0;
        for (i64 j = 0; j <= last; ++j) {
          row[j] = std::exp(row[j] * scale - mx);
          sum += row[j];
        }
        const float inv = 1.0F / sum;
        for (i64 j = 0; j <= last; ++j) row[j] *= inv;
        for (i64 j = last + 1; j < cols; ++j) row[j] = 0;
      }
  }
  void softmax_backward(const float* p, const float* dp, float* ds, i64 rows, i64 cols, float scale) override {
    for (i64 r = 0; r < rows; ++r) {
      const float* pr = p + r * cols;
      const float* dpr = dp + r * cols;
      float dot = 0;
      for (i64 j = 0; j < cols; ++j) dot += pr[j] * dpr[j];
      for (i64 j = 0; j < cols; ++j) ds[r * cols + j] = scale * pr[j] * (dpr[j] - dot);
    }
  }
  void copy_rows(float* dst, i64 ld_dst, const float* src, i64 ld_src, i64 rows, i64 cols) override {
    for (i64 r = 0; r < rows; ++r)
      std::memcpy(dst + r * ld_dst, src + r * ld_src, static_cast<std::size_t>(cols) * sizeof(float));
  }

  void embedding_forward(std::span<const std::int32_t> tokens, const float* table, i64 first_row, i64 rows, i64 cols,
                         float* out) override {
    for (std::size_t t = 0; t < tokens.size(); ++t) {
      const i64 r = tokens[t] - first_row;
      float* o = out + static_cast<i64>(t) * cols;
      if (r >= 0 && r < rows)
        std::memcpy(o, table + r * cols, cols * sizeof(float));
      else
        std::fill(o, o + cols, 0.0F);
    }
  }
  void embedding_backward(std::span<const std::int32_t> tokens, const float* dy, i64 first_row, i64 rows, i64 cols,
                          float* dtable) override {
    for (std::size_t t = 0; t < tokens.size(); ++t) {
      const i64 r = tokens[t] - first_row;
      if (r < 0 || r >= rows) continue;
      for (i64 c = 0; c < cols; ++c) dtable[r * cols + c] += dy[static_cast<i64>(t) * cols + c];
    }
  }
  void add_positions(float* x, const float* pos, i64 batch, i64 seq, i64 cols) override {
    for (i64 b = 0; b < batch; ++b) axpy(x + b * seq * cols, 1.0F, pos, static_cast<std::size_t>(seq * cols));
  }
  void position_grad(float* dpos, const float* dx, i64 batch, i64 seq, i64 cols) override {
    for (i64 b = 0; b < batch; ++b) axpy(dpos, 1.0F, dx + b * seq * cols, static_cast<std::size_t>(seq * cols));
  }

  void row_max(const float* x, i64 rows, i64 cols, float* out) override {
    for (i64 r = 0; r < rows; ++r) out[r] = *std::max_element(x + r * cols, x + (r + 1) * cols);
  }
  void row_sum_exp(const float* x, const float* max, i64 rows, i64 cols, float* out) override {
    for (i64 r = 0; r < rows; ++r) {
      float s = 0;
      for (i64 c = 0; c < cols; ++c) s += std::exp(x[r * cols + c] - max[r]);
      out[r] = s;
    }
  }
  void pick_targets(const float* x, std::span<const std::int32_t> targets, i64 cols, i64 first_col,
                    float* out) override {
    for (std::size_t r = 0; r < targets.size(); ++r) {
      const i64 c = targets[r] - first_col;
      out[r] = (c >= 0 && c < cols) ? x[static_cast<i64>(r) * cols + c] : 0.0F;
    }
  }
  void cross_entropy_backward(const float* x, const float* max, const float* sum_exp,
                              std::span<const std::int32_t> targets, i64 cols, i64 first_col, float scale,
                              float* dx) override {
    for (std::size_t r = 0; r < targets.size(); ++r) {
      const i64 ri = static_cast<i64>(r);
      const float inv = 1.0F / sum_exp[r];
      for (i64 c = 0; c < cols; ++c) dx[ri * cols + c] = scale * std::exp(x[ri * cols + c] - max[r]) * inv;
      const i64 c = targets[r] - first_col;
      if (c >= 0 && c < cols) dx[ri * cols + c] -= scale;
    }
  }

  void adam(float* p, const float* grad, float* m, float* v, std::size_t n, const AdamConfig& a, std::int64_t step,
            float grad_scale) override {
    const float bc1 = 1.0F - std::pow(a.beta1, static_cast<float>(step));
    const float bc2 = 1.0F - std::pow(a.beta2, static_cast<float>(step));
    for (std::size_t i = 0; i < n; ++i) {
      const float g = grad[i] * grad_scale;
      m[i] = a.beta1 * m[i] + (1.0F - a.beta1) * g;
      v[i] = a.beta2 * v[i] + (1.0F - a.beta2) * g * g;
      const float mh = m[i] / bc1;
      const float vh = v[i] / bc2;
      p[i] -= a.lr * (mh / (std::sqrt(vh) + a.eps) + a.weight_decay * p[i]);
    }
  }
  bool all_finite(const float* x, std::size_t n) override {
    return std::all_of(x, x + n, [](float v) { return std::isfinite(v); });
  }

 private:
  std::vector<float> rope_cos_, rope_sin_;
};

}  // namespace

std::unique_ptr<ComputeBackend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace hpsim::exec
