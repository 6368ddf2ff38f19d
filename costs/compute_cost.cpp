#include "costs/compute_cost.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hpsim::costs {

namespace {
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

/// The quoted (peak-clock) 16-bit tensor peak the GEMM depth parameter refers to; a GPU or CPU without one measures
/// its depth at its own precision (`own`).
core::FlopsPerSecond sixteen_bit_peak(const topologies::GpuSpec& gpu, core::FlopsPerSecond own) {
  for (const auto p : {topologies::Precision::bf16, topologies::Precision::fp16})
    if (gpu.peak.contains(p)) return gpu.peak_for(p);
  return own;
}
}  // namespace

double fp8_cast_bytes_per_element(Fp8Recipe recipe) {
  // Per BF16 element quantized (torchao's roofline model, torchao/testing/training/roofline_utils.py): dynamic
  // tensorwise scaling reads the tensor for its amax (2 B), reads it again to cast (2 B) and writes FP8 copies in
  // row- and column-major order (Hopper's FP8 MMA wants K-major operands for every GEMM of the backward): 6 B.
  // Delayed scaling takes the scale from the amax history, so one fused cast-transpose kernel reads once and
  // writes both copies (Transformer Engine's cast_transpose): 4 B. Row-wise scaling adds a BF16 transpose pass
  // (read and write, 4 B). Block-wise (1x128 / 128x128) scales per block: one pass per layout, 2 x (2 + 1) B.
  switch (recipe) {
    case Fp8Recipe::delayed: return 4;
    case Fp8Recipe::tensorwise: return 6;
    case Fp8Recipe::rowwise: return 10;
    case Fp8Recipe::blockwise: return 6;
  }
  return 6;
}

ComputeCost::ComputeCost(const topologies::GpuSpec& gpu, topologies::Precision precision)
    : ComputeCost(gpu, KernelChoice{precision}) {}

ComputeCost::ComputeCost(const topologies::GpuSpec& gpu, const KernelChoice& kernels)
    : gpu_(gpu), kernels_(kernels), rate_(gemm_rate(kernels.precision)),
      bf16_rate_(kernels.precision == topologies::Precision::fp8 ? gemm_rate(topologies::Precision::bf16) : rate_),
      reference_peak_(sixteen_bit_peak(gpu, rate_.peak)) {}

double ComputeCost::clock_ratio() const {
  return gpu_.peak_clock_mhz > 0 ? gpu_.sustained_clock_mhz / gpu_.peak_clock_mhz : 1.0;
}

ComputeCost::GemmRate ComputeCost::gemm_rate(topologies::Precision precision) const {
  const auto& e = gpu_.efficiency;
  const bool fp8 = precision == topologies::Precision::fp8;
  const double fraction = fp8 && e.fp8_gemm_peak_fraction > 0 ? e.fp8_gemm_peak_fraction : e.gemm_peak_fraction;
  const bool table = std::any_of(gpu_.gemm_table.begin(), gpu_.gemm_table.end(),
                                 [&](const auto& g) { return g.precision == precision; });
  // Block scales change along the reduction, so the kernel rescales its accumulators inside the main loop; one
  // scale per tensor (or per row) waits for the epilogue.
  const double scaling = fp8 && kernels_.fp8_recipe == Fp8Recipe::blockwise ? e.fp8_blockwise_gemm_ratio : 1.0;
  return {precision, gpu_.sustained_peak_for(precision), fraction * e.in_training_fraction, table, scaling};
}

double ComputeCost::gemm_efficiency(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t batch) const {
  return gemm_efficiency(rate_, m, n, k, batch);
}

double ComputeCost::gemm_efficiency(const GemmRate& rate, std::int64_t m, std::int64_t n, std::int64_t k,
                                    std::int64_t batch) const {
  if (rate.use_table) return table_efficiency(rate, m, n, k) * rate.scaling_ratio;
  const auto& e = gpu_.efficiency;
  // The output is cut into tiles that the SMs process in waves: padding of the last tile and an idle part of the
  // last wave both cost as if the work were there.
  const std::int64_t tiles_m = ceil_div(m, e.gemm_tile_m);
  const std::int64_t tiles_n = ceil_div(n, e.gemm_tile_n);
  const std::int64_t tiles = tiles_m * tiles_n * batch;
  const std::int64_t waves = ceil_div(tiles, gpu_.sm_count);
  const double useful = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(batch);
  const double paid = static_cast<double>(waves * gpu_.sm_count) * static_cast<double>(e.gemm_tile_m * e.gemm_tile_n);
  const double quantization = useful / paid;
  // A short reduction (small k) amortizes loading and storing each tile over few multiply-adds. That fixed cost per
  // tile takes the same time at any precision and clock while the multiply-adds run at the precision's sustained
  // peak, so the depth that reaches half efficiency grows with that peak (FP8: twice BF16's; a power-capped clock:
  // less). gemm_k_half_efficiency is the 16-bit depth at the peak clock.
  const double k_half = e.gemm_k_half_efficiency * (rate.peak.value() / reference_peak_.value());
  const double depth = static_cast<double>(k) / (static_cast<double>(k) + k_half);
  return rate.peak_fraction * rate.scaling_ratio * quantization * depth;
}

double ComputeCost::table_efficiency(const GemmRate& rate, std::int64_t m, std::int64_t n, std::int64_t k) const {
  // Nearest measured shape in log space: calibration grids are coarse, shapes far apart in size behave apart.
  double best = std::numeric_limits<double>::max();
  double achieved = 0;
  for (const auto& g : gpu_.gemm_table) {
    if (g.precision != rate.precision) continue;
    const double d = std::pow(std::log(static_cast<double>(m) / g.m), 2) +
                     std::pow(std::log(static_cast<double>(n) / g.n), 2) +
                     std::pow(std::log(static_cast<double>(k) / g.k), 2);
    if (d < best) best = d, achieved = g.achieved.value();
  }
  return std::clamp(achieved / rate.peak.value(), 1e-3, 1.0);
}

core::Seconds ComputeCost::gemm_time(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t batch,
                                     core::Bytes bytes) const {
  return gemm_time(rate_, m, n, k, batch, bytes);
}

core::Seconds ComputeCost::gemm_time(const GemmRate& rate, std::int64_t m, std::int64_t n, std::int64_t k,
                                     std::int64_t batch, core::Bytes bytes) const {
  if (m <= 0 || n <= 0 || k <= 0 || batch <= 0) return core::Seconds(0);
  const core::Flops flops(2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) *
                          static_cast<double>(batch));
  const core::Seconds compute = flops / (rate.peak * gemm_efficiency(rate, m, n, k, batch));
  const core::Seconds memory = bytes / (gpu_.hbm_bandwidth * gpu_.efficiency.memory_peak_fraction);
  return std::max(compute, memory) + gpu_.efficiency.kernel_overhead;
}

core::Seconds ComputeCost::elementwise_time(core::Bytes bytes, core::Flops vector_flops,
                                            core::VectorKernel kernel) const {
  if (bytes.value() <= 0 && vector_flops.value() <= 0) return core::Seconds(0);
  const core::Seconds memory = bytes / (gpu_.hbm_bandwidth * gpu_.efficiency.memory_peak_fraction);
  // Roofline: the FP32 vector arithmetic at the kernel's measured rate, else the vector peak (no fraction: a
  // calibrated CPU rate is an achieved one, and on GPUs this bound is far below the memory one), when given.
  const auto measured = gpu_.vector_table.find(kernel);
  const core::FlopsPerSecond rate = measured != gpu_.vector_table.end() ? measured->second : gpu_.vector_peak;
  const core::Seconds compute = rate.value() > 0 ? vector_flops / rate : core::Seconds(0);
  return std::max(memory, compute) + gpu_.efficiency.kernel_overhead;
}

core::Seconds ComputeCost::memory_time(core::Bytes bytes) const {
  if (bytes.value() <= 0) return core::Seconds(0);
  return bytes / (gpu_.hbm_bandwidth * gpu_.efficiency.memory_peak_fraction) + gpu_.efficiency.kernel_overhead;
}

OperatorTime ComputeCost::gemm_op_time(const models::Operator& op) const {
  // Linear layers run in FP8 when the plan trains in FP8; the rest (attention's batched GEMMs, the LM head, the
  // router) stay in BF16, as Transformer Engine and torchao leave them.
  const bool fp8 = op.quantizable && rate_.precision == topologies::Precision::fp8;
  const GemmRate& rate = op.quantizable ? rate_ : bf16_rate_;
  // Backward = data gradient (m x k, reduce over n) + weight gradient (k x n, reduce over m); each moves about
  // the bytes of the forward.
  // Experts run one by one (no grouped GEMM): `launches` kernels of batch/launches each, every one paying its
  // launch and its own tile waves.
  const std::int64_t launches = std::max<std::int64_t>(1, op.launches);
  const std::int64_t batch = std::max<std::int64_t>(1, op.batch / launches);
  const double n = static_cast<double>(launches);
  const core::Bytes half = op.backward_bytes * (0.5 / n);
  OperatorTime t{gemm_time(rate, op.m, op.n, op.k, batch, op.forward_bytes / n) * n,
                 (gemm_time(rate, op.m, op.k, op.n, batch, half) + gemm_time(rate, op.k, op.n, op.m, batch, half)) * n};
  if (op.row_parallel && kernels_.tp_overlap_sms > 0 && kernels_.tp_overlap_sms < gpu_.sm_count)
    t.forward = t.forward * (static_cast<double>(gpu_.sm_count) /
                             static_cast<double>(gpu_.sm_count - kernels_.tp_overlap_sms));
  if (fp8) {
    // Cast kernels: the input activation before the forward GEMM, the output gradient before the backward ones
    // (weights are cast once per step, with the optimizer's update).
    const double per_element = fp8_cast_bytes_per_element(kernels_.fp8_recipe);
    const double rows = static_cast<double>(op.m * op.batch);
    t.forward += memory_time(core::Bytes(per_element * rows * static_cast<double>(op.k)));
    t.backward += memory_time(core::Bytes(per_element * rows * static_cast<double>(op.n)));
  }
  return t;
}

std::optional<core::FlopsPerSecond> ComputeCost::attention_rate(std::int64_t head_dim, std::int64_t seq, bool causal,
                                                                bool backward) const {
  const std::string_view kernel = kAttentionKernelNames[static_cast<std::size_t>(kernels_.attention)];
  const topologies::AttentionRates* best = nullptr;
  double best_distance = std::numeric_limits<double>::max();
  for (const auto& r : gpu_.attention_table) {
    if (r.kernel != kernel || r.causal != causal || r.backward != backward) continue;
    const double d = std::abs(std::log(static_cast<double>(head_dim) / static_cast<double>(r.head_dim)));
    if (d < best_distance) best_distance = d, best = &r;
  }
  if (best == nullptr) return std::nullopt;
  const auto& points = best->by_seq;
  if (seq <= points.front().first) return points.front().second;
  if (seq >= points.back().first) return points.back().second;
  const auto hi = std::find_if(points.begin(), points.end(), [&](const auto& p) { return p.first >= seq; });
  const auto lo = hi - 1;
  const double x = std::log(static_cast<double>(seq) / static_cast<double>(lo->first)) /
                   std::log(static_cast<double>(hi->first) / static_cast<double>(lo->first));
  return lo->second * (1 - x) + hi->second * x;
}

OperatorTime ComputeCost::attention_time(const models::Operator& op) const {
  const auto& e = gpu_.efficiency;
  // A fused kernel at its published rate for the queries one call sees. With context parallelism (keys n longer
  // than the rank's queries m) a causal ring runs one kernel per step, load-balanced (each rank holds a head and a
  // tail chunk of the sequence): step 0 is the rank's own chunk under the causal mask, every other step an unmasked
  // half block (all queries against the first half of the arriving keys, or the second half of the queries against
  // all of them), each of the same work; Transformer Engine's p2p ring (AttnFuncWithCPAndKVP2P) and PyTorch's
  // (_templated_ring_attention with load balancing) split it alike.
  const std::int64_t steps = op.causal && op.m > 0 && op.n > op.m ? (op.n + op.m - 1) / op.m : 1;
  const double kept = e.in_training_fraction * clock_ratio();
  const auto pass = [&](core::Flops flops, bool backward) -> std::optional<core::Seconds> {
    const auto own = attention_rate(op.k, op.m, op.causal, backward);
    if (!own) return std::nullopt;
    if (steps == 1) return flops / (*own * kept) + e.kernel_overhead;
    const auto half_block = attention_rate(op.k, std::max<std::int64_t>(1, op.m / 2), false, backward);
    if (!half_block) return std::nullopt;
    const double diagonal = 1.0 / static_cast<double>(steps);
    return flops * diagonal / (*own * kept) + flops * (1 - diagonal) / (*half_block * kept) +
           e.kernel_overhead * static_cast<double>(steps);
  };
  const auto forward = pass(op.forward_flops, false);
  const auto backward = pass(op.backward_flops, true);
  if (forward && backward) return {*forward, *backward};
  // No measured kernel: both matmuls in one kernel at the efficiency of the score GEMM's shape.
  const double eff = gemm_efficiency(bf16_rate_, op.m, op.n, op.k, op.batch);
  const auto hbm = gpu_.hbm_bandwidth * e.memory_peak_fraction;
  return {std::max(op.forward_flops / (bf16_rate_.peak * eff), op.forward_bytes / hbm) + e.kernel_overhead,
          std::max(op.backward_flops / (bf16_rate_.peak * eff), op.backward_bytes / hbm) + e.kernel_overhead};
}

OperatorTime ComputeCost::time(const models::Operator& op) const {
  switch (op.kind) {
    case models::OpKind::elementwise: {
      const double traffic = kernels_.execution == Execution::eager ? op.eager_traffic : 1.0;
      return {elementwise_time(op.forward_bytes * traffic, op.forward_vector_flops, op.vector_kernel),
              elementwise_time(op.backward_bytes * traffic, op.backward_vector_flops, op.vector_kernel)};
    }
    case models::OpKind::gemm:
    case models::OpKind::batched_gemm: return gemm_op_time(op);
    case models::OpKind::attention: return attention_time(op);
  }
  return {};
}

}  // namespace hpsim::costs
