// The CUDA backend against the CPU backend: kernels on small tensors, a 1-rank 3-step training run (fp32 and bf16),
// run_plan with --backend cuda, and (with 2+ GPUs) NCCL tensor/pipeline parallelism. Without a CUDA device every
// test is skipped (ctest: Skipped), except the one that checks the refusal itself, which is skipped with a device.
#include <doctest/doctest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "exec/cuda_backend.hpp"
#include "exec/nccl_comm.hpp"
#include "exec/run.hpp"
#include "exec/trainer.hpp"
#include "cuda_test_util.hpp"
#include "exec_test_util.hpp"

namespace hpsim::exec {
namespace {

using i64 = std::int64_t;

using testing::have_devices;

std::vector<float> pattern(std::size_t n, int seed, float scale = 1.0F) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = scale * seeded_normal(static_cast<std::uint64_t>(seed), 7, static_cast<std::int64_t>(i));
  return v;
}

/// ||a - b|| / ||b||
double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

/// The same buffers on both backends; `run` applies one operation to a backend given its device pointers.
struct Pair {
  ComputeBackend& cpu;
  ComputeBackend& gpu;
  std::vector<std::pair<Buffer, Buffer>> bufs;
  std::size_t add(const std::vector<float>& host) {
    Buffer c(cpu, host.size()), g(gpu, host.size());
    cpu.upload(c.data(), host.data(), host.size());
    gpu.upload(g.data(), host.data(), host.size());
    bufs.emplace_back(std::move(c), std::move(g));
    return bufs.size() - 1;
  }
  std::size_t zeros(std::size_t n) { return add(std::vector<float>(n, 0.0F)); }
  float* c(std::size_t i) { return bufs[i].first.data(); }
  float* g(std::size_t i) { return bufs[i].second.data(); }
  template <typename F>
  void run(F&& f) {
    f(cpu, [&](std::size_t i) { return c(i); });
    f(gpu, [&](std::size_t i) { return g(i); });
  }
  /// Relative error of the GPU's buffer i against the CPU's.
  double err(std::size_t i) {
    const std::size_t n = bufs[i].first.size();
    std::vector<float> hc(n), hg(n);
    cpu.download(hc.data(), c(i), n);
    gpu.download(hg.data(), g(i), n);
    return rel_err(hg, hc);
  }
};

void check_gemms(CudaPrecision precision, double tol) {
  auto cpu = make_cpu_backend();
  auto gpu = make_cuda_backend(0, precision);
  Pair p{*cpu, *gpu, {}};
  const i64 m = 37, n = 29, k = 45, pad = 3;
  // Operands stored with leading dimensions larger than their width; B's buffer doubles as "parameters".
  const std::size_t big = static_cast<std::size_t>((std::max({m, n, k}) + pad) * (std::max({m, n, k}) + pad));
  const auto a = p.add(pattern(big, 1));
  const auto b = p.add(pattern(big, 2));
  gpu->register_parameters(p.g(b), big);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (float beta : {0.0F, 1.0F}) {
        const auto c = p.add(pattern(static_cast<std::size_t>(m * (n + pad)), 3));
        const i64 lda = (ta != 0 ? m : k) + pad, ldb = (tb != 0 ? k : n) + pad;
        p.run([&](ComputeBackend& be, auto ptr) {
          be.gemm(ta != 0, tb != 0, m, n, k, 0.5F, ptr(a), lda, ptr(b), ldb, beta, ptr(c), n + pad);
        });
        INFO("gemm ta=" << ta << " tb=" << tb << " beta=" << beta << " precision " << to_string(precision));
        CHECK(p.err(c) < tol);
      }
  // The 16-bit parameter copy follows an update of the parameters (adam marks it stale).
  const auto gr = p.add(pattern(big, 4)), mom = p.zeros(big), var = p.zeros(big);
  const auto c = p.zeros(static_cast<std::size_t>(m * n));
  p.run([&](ComputeBackend& be, auto ptr) {
    be.adam(ptr(b), ptr(gr), ptr(mom), ptr(var), big, AdamConfig{.lr = 0.1F}, 1, 1.0F);
    be.gemm(false, false, m, n, k, 1.0F, ptr(a), k, ptr(b), n, 0.0F, ptr(c), n);
  });
  CHECK(p.err(c) < tol);
}

TEST_CASE("1rank: cuda: gemm matches the CPU backend (fp32, tf32, bf16, fp16)") {
  if (!have_devices()) return;
  check_gemms(CudaPrecision::fp32, 1e-5);
  check_gemms(CudaPrecision::tf32, 5e-3);
  check_gemms(CudaPrecision::bf16, 2e-2);
  check_gemms(CudaPrecision::fp16, 5e-3);
}

TEST_CASE("1rank: cuda: batched gemm over interleaved heads matches the CPU backend (fp32, bf16)") {
  if (!have_devices()) return;
  auto cpu = make_cpu_backend();
  for (const auto& [precision, tol] : {std::pair{CudaPrecision::fp32, 1e-5}, std::pair{CudaPrecision::bf16, 2e-2}}) {
    auto gpu = make_cuda_backend(0, precision);
    Pair p{*cpu, *gpu, {}};
    // The attention core's shapes: 6 heads of d = 24 side by side in rows of a [s, 3 * 6 * 24] qkv, s = 40.
    const i64 s = 40, d = 24, heads = 6, w = 3 * heads * d;
    const auto qkv = p.add(pattern(static_cast<std::size_t>(s * w), 1));
    const auto scores = p.zeros(static_cast<std::size_t>(heads * s * s));
    const auto ctx = p.add(pattern(static_cast<std::size_t>(s * heads * d), 2));
    p.run([&](ComputeBackend& be, auto ptr) {
      be.gemm_batched(false, true, s, s, d, 0.5F, ptr(qkv), w, d, ptr(qkv) + heads * d, w, d, 0.0F, ptr(scores), s,
                      s * s, heads);  // Q K^T per head
      be.gemm_batched(false, false, s, d, s, 1.0F, ptr(scores), s, s * s, ptr(qkv) + 2 * heads * d, w, d, 1.0F,
                      ptr(ctx), heads * d, d, heads);  // += P V, into interleaved heads
      be.gemm_batched(true, false, s, d, s, 1.0F, ptr(scores), s, s * s, ptr(ctx), heads * d, d, 0.0F,
                      ptr(qkv) + 2 * heads * d, w, d, heads);  // P^T dC, transposed operand
    });
    INFO("precision " << to_string(precision));
    CHECK(p.err(scores) < tol);
    CHECK(p.err(ctx) < tol);
    CHECK(p.err(qkv) < tol);
  }
}

TEST_CASE("1rank: cuda: kernels match the CPU backend") {
  if (!have_devices()) return;
  auto cpu = make_cpu_backend();
  auto gpu = make_cuda_backend(0, CudaPrecision::bf16);
  Pair p{*cpu, *gpu, {}};
  constexpr double kTol = 1e-5;
  const i64 rows = 70, cols = 300;  // more than one block of threads per row, a partial column chunk
  const auto rc = static_cast<std::size_t>(rows * cols);

  SUBCASE("layernorm forward and backward") {
    const auto x = p.add(pattern(rc, 1, 3.0F)), g = p.add(pattern(cols, 2)), b = p.add(pattern(cols, 3));
    const auto y = p.zeros(rc), mean = p.zeros(rows), rstd = p.zeros(rows), dy = p.add(pattern(rc, 4));
    const auto dx = p.zeros(rc), dg = p.add(pattern(cols, 5)), db = p.add(pattern(cols, 6));
    p.run([&](ComputeBackend& be, auto ptr) {
      be.layernorm_forward(ptr(x), ptr(g), ptr(b), ptr(y), ptr(mean), ptr(rstd), rows, cols, 1e-5F);
      be.layernorm_backward(ptr(dy), ptr(x), ptr(g), ptr(mean), ptr(rstd), ptr(dx), ptr(dg), ptr(db), rows, cols);
    });
    CHECK(p.err(y) < kTol);
    CHECK(p.err(mean) < kTol);
    CHECK(p.err(rstd) < kTol);
    CHECK(p.err(dx) < 1e-4);
    CHECK(p.err(dg) < kTol);
    CHECK(p.err(db) < kTol);
  }
  SUBCASE("causal softmax of a run of queries against every key (context parallelism), copy_rows") {
    const i64 batch = 3, q = 17, keys = 70, offset = 40;  // queries at positions 40..56 of 70 keys
    const auto n = static_cast<std::size_t>(batch * q * keys);
    const auto sc = p.add(pattern(n, 1, 4.0F)), dp = p.add(pattern(n, 2)), ds = p.zeros(n);
    const auto block = p.zeros(static_cast<std::size_t>(q * 30));
    p.run([&](ComputeBackend& be, auto ptr) {
      be.causal_softmax_forward(ptr(sc), batch, q, keys, offset, 0.3F);
      be.softmax_backward(ptr(sc), ptr(dp), ptr(ds), batch * q, keys, 0.3F);
      be.copy_rows(ptr(block), 30, ptr(sc) + 5, keys, q, 30);
    });
    CHECK(p.err(sc) < kTol);
    CHECK(p.err(ds) < kTol);
    CHECK(p.err(block) < kTol);
  }
  SUBCASE("rmsnorm, swiglu and rope forward and backward (LLaMA's pieces)") {
    const auto x = p.add(pattern(rc, 1, 3.0F)), g = p.add(pattern(cols, 2)), y = p.zeros(rc), rstd = p.zeros(rows);
    const auto dy = p.add(pattern(rc, 4)), dx = p.zeros(rc), dg = p.add(pattern(cols, 5));
    const i64 half = cols / 2;  // swiglu: x holds [gate | up] of half the columns each
    const auto sy = p.zeros(static_cast<std::size_t>(rows * half)), sdy = p.add(pattern(static_cast<std::size_t>(rows * half), 6));
    const auto sdx = p.zeros(rc), r = p.add(pattern(rc, 7));
    p.run([&](ComputeBackend& be, auto ptr) {
      be.rmsnorm_forward(ptr(x), ptr(g), ptr(y), ptr(rstd), rows, cols, 1e-5F);
      be.rmsnorm_backward(ptr(dy), ptr(x), ptr(g), ptr(rstd), ptr(dx), ptr(dg), rows, cols);
      be.swiglu_forward(ptr(x), ptr(sy), rows, half);
      be.swiglu_backward(ptr(x), ptr(sdy), ptr(sdx), rows, half);
      be.rope(ptr(r), rows, cols, 5, 20, 16, 0, 10000.0F, false);        // q: 5 heads of 20 at the row's start
      be.rope(ptr(r) + 100, rows, cols, 2, 20, 16, 48, 10000.0F, true);  // k: 2 heads after them, from position 48
    });
    CHECK(p.err(y) < kTol);
    CHECK(p.err(rstd) < kTol);
    CHECK(p.err(dx) < 1e-4);
    CHECK(p.err(dg) < kTol);
    CHECK(p.err(sy) < kTol);
    CHECK(p.err(sdx) < kTol);
    CHECK(p.err(r) < kTol);
  }
  SUBCASE("gelu forward and backward, bias, axpy, fill, copy") {
    const auto x = p.add(pattern(rc, 1, 2.0F)), y = p.zeros(rc), dy = p.add(pattern(rc, 2)), dx = p.zeros(rc);
    const auto bias = p.add(pattern(cols, 3)), dbias = p.add(pattern(cols, 4)), z = p.zeros(rc), f = p.zeros(rc);
    p.run([&](ComputeBackend& be, auto ptr) {
      be.gelu_forward(ptr(x), ptr(y), rc);
      be.gelu_backward(ptr(x), ptr(dy), ptr(dx), rc);
      be.add_bias(ptr(y), ptr(bias), rows, cols);
      be.bias_grad(ptr(dbias), ptr(dy), rows, cols);
      be.copy(ptr(z), ptr(x), rc);
      be.axpy(ptr(z), -0.5F, ptr(dy), rc);
      be.fill(ptr(f), 0.25F, rc / 2);
    });
    CHECK(p.err(y) < kTol);
    CHECK(p.err(dx) < kTol);
    CHECK(p.err(dbias) < kTol);
    CHECK(p.err(z) < kTol);
    CHECK(p.err(f) < kTol);
  }
  SUBCASE("causal softmax forward and backward") {
    for (const i64 s : {5L, 33L, 300L}) {  // square (the keys of a whole sequence)
      const i64 batch = 3;
      const auto n = static_cast<std::size_t>(batch * s * s);
      const auto sc = p.add(pattern(n, 1, 4.0F)), dp = p.add(pattern(n, 2)), ds = p.zeros(n);
      const auto dp2 = p.add(pattern(n, 2));
      p.run([&](ComputeBackend& be, auto ptr) {
        be.causal_softmax_forward(ptr(sc), batch, s, s, 0, 0.3F);
        be.softmax_backward(ptr(sc), ptr(dp), ptr(ds), batch * s, s, 0.3F);
        be.softmax_backward(ptr(sc), ptr(dp2), ptr(dp2), batch * s, s, 0.3F);  // in place, as the shard calls it
      });
      INFO("s = " << s);
      CHECK(p.err(sc) < kTol);
      CHECK(p.err(ds) < kTol);
      CHECK(p.err(dp2) < kTol);
    }
  }
  SUBCASE("embedding, positions, cross-entropy pieces") {
    const i64 vocab = 50, first = 20, local = 25, seq = 7, batch = 10, t = seq * batch;
    std::vector<std::int32_t> tokens(static_cast<std::size_t>(t));
    for (i64 i = 0; i < t; ++i) tokens[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 17 + 3) % vocab);
    const auto table = p.add(pattern(static_cast<std::size_t>(local * cols), 1));
    const auto out = p.zeros(static_cast<std::size_t>(t * cols)), dy = p.add(pattern(static_cast<std::size_t>(t * cols), 2));
    const auto dtable = p.add(pattern(static_cast<std::size_t>(local * cols), 3));
    const auto pos = p.add(pattern(static_cast<std::size_t>(seq * cols), 4)), dpos = p.add(pattern(static_cast<std::size_t>(seq * cols), 5));
    const auto logits = p.add(pattern(static_cast<std::size_t>(t * local), 6, 3.0F));
    const auto mx = p.zeros(static_cast<std::size_t>(t)), se = p.zeros(static_cast<std::size_t>(t));
    const auto pick = p.zeros(static_cast<std::size_t>(t)), dl = p.zeros(static_cast<std::size_t>(t * local));
    p.run([&](ComputeBackend& be, auto ptr) {
      be.embedding_forward(tokens, ptr(table), first, local, cols, ptr(out));
      be.embedding_backward(tokens, ptr(dy), first, local, cols, ptr(dtable));
      be.add_positions(ptr(out), ptr(pos), batch, seq, cols);
      be.position_grad(ptr(dpos), ptr(dy), batch, seq, cols);
      be.row_max(ptr(logits), t, local, ptr(mx));
      be.row_sum_exp(ptr(logits), ptr(mx), t, local, ptr(se));
      be.pick_targets(ptr(logits), tokens, local, first, ptr(pick));
      be.cross_entropy_backward(ptr(logits), ptr(mx), ptr(se), tokens, local, first, 0.125F, ptr(dl));
    });
    CHECK(p.err(out) < kTol);
    CHECK(p.err(dtable) < kTol);
    CHECK(p.err(dpos) < kTol);
    CHECK(p.err(mx) < kTol);
    CHECK(p.err(se) < kTol);
    CHECK(p.err(pick) < kTol);
    CHECK(p.err(dl) < kTol);
  }
  SUBCASE("adam") {
    const auto w = p.add(pattern(rc, 1)), g = p.add(pattern(rc, 2)), m = p.zeros(rc), v = p.zeros(rc);
    p.run([&](ComputeBackend& be, auto ptr) {
      for (std::int64_t step = 1; step <= 3; ++step)
        be.adam(ptr(w), ptr(g), ptr(m), ptr(v), rc, AdamConfig{.lr = 1e-2F, .weight_decay = 0.01F}, step, 0.5F);
    });
    CHECK(p.err(w) < kTol);
    CHECK(p.err(m) < kTol);
    CHECK(p.err(v) < kTol);
  }
  SUBCASE("all_finite") {  // loss scaling's overflow check: an inf or a NaN anywhere, or none
    auto with_inf = pattern(rc, 7), with_nan = pattern(rc, 8);
    with_inf[rc - 1] = std::numeric_limits<float>::infinity();
    with_nan[rc / 3] = std::numeric_limits<float>::quiet_NaN();
    const auto ok = p.add(pattern(rc, 9)), inf = p.add(with_inf), nan = p.add(with_nan);
    std::vector<bool> seen;
    p.run([&](ComputeBackend& be, auto ptr) {
      seen.push_back(be.all_finite(ptr(ok), rc));
      seen.push_back(be.all_finite(ptr(inf), rc));
      seen.push_back(be.all_finite(ptr(inf), rc - 1));
      seen.push_back(be.all_finite(ptr(nan), rc));
    });
    CHECK(seen == std::vector<bool>{true, false, true, false, true, false, true, false});  // cpu, then cuda
  }
}

std::vector<double> train(ComputeBackend& be, const planner::Plan& plan, MPI_Comm world, bool nccl) {
  TrainerOptions opt;
  if (nccl) opt.comm_factory = [&be](MpiComm& g, bool p2p) { return make_nccl_comm(g.comm(), be, p2p); };
  Trainer t(testing::tiny_gpt(), plan, be, world, opt);
  std::vector<double> loss;
  for (int i = 0; i < 3; ++i) loss.push_back(t.step());
  return loss;
}

TEST_CASE("1rank: cuda: 3 training steps match the CPU backend (fp32 tight, bf16 loose)") {
  if (!have_devices()) return;
  const auto plan = resolve_run_plan(testing::tiny_gpt(), testing::plan_of(1, 1, 1), 1);
  auto cpu = make_cpu_backend();
  const auto ref = train(*cpu, plan, MPI_COMM_SELF, false);
  for (const auto& [precision, tol] : {std::pair{CudaPrecision::fp32, 1e-4}, std::pair{CudaPrecision::tf32, 1e-2},
                                       std::pair{CudaPrecision::bf16, 2e-2}}) {
    auto gpu = make_cuda_backend(0, precision);
    const auto loss = train(*gpu, plan, MPI_COMM_SELF, true);
    for (std::size_t i = 0; i < ref.size(); ++i) {
      INFO(to_string(precision) << " step " << i << ": cuda " << loss[i] << " cpu " << ref[i]);
      CHECK(std::abs(loss[i] - ref[i]) <= tol * std::abs(ref[i]));
    }
    CHECK(loss.back() < loss.front());
  }
}

TEST_CASE("1rank: cuda: fp16 with dynamic loss scaling skips the overflowing steps, then trains") {
  if (!have_devices()) return;
  const auto plan = resolve_run_plan(testing::tiny_gpt(), testing::plan_of(1, 1, 1), 1);
  auto gpu = make_cuda_backend(0, CudaPrecision::fp16);
  TrainerOptions opt;
  opt.loss_scaling.enabled = true;  // 2^32: the scaled loss gradient overflows fp16 until the scale backs off
  Trainer t(testing::tiny_gpt(), plan, *gpu, MPI_COMM_SELF, opt);
  double loss = 0;
  while (t.steps_done() - t.skipped_steps() < 3 && t.steps_done() < 60) loss = t.step();
  MESSAGE("fp16: " << t.skipped_steps() << " skipped steps, loss scale " << t.loss_scale() << ", loss " << loss);
  CHECK(t.skipped_steps() >= 1);
  CHECK(t.loss_scale() < 4294967296.0);
  CHECK(std::isfinite(loss));
  CHECK(loss < std::log(128.0));
  CHECK(t.steps_done() - t.skipped_steps() >= 3);
}

TEST_CASE("1rank: cuda: 3 training steps of a LLaMA-style model match the CPU backend (fp32)") {
  if (!have_devices()) return;
  const auto model = testing::tiny_llama();
  const auto plan = resolve_run_plan(model, testing::plan_of(1, 1, 1), 1);
  std::vector<double> loss[2];
  for (int k = 0; k < 2; ++k) {
    auto be = k == 0 ? make_cpu_backend() : make_cuda_backend(0, CudaPrecision::fp32);
    Trainer t(model, plan, *be, MPI_COMM_SELF);
    for (int i = 0; i < 3; ++i) loss[k].push_back(t.step());
  }
  for (std::size_t i = 0; i < 3; ++i) CHECK(loss[1][i] == doctest::Approx(loss[0][i]).epsilon(1e-4));
}

TEST_CASE("1rank: cuda: run_plan --backend cuda runs bf16 and times by CUDA events") {
  if (!have_devices()) return;
  auto plan = testing::plan_of(1, 1, 1);
  plan.precision = topologies::Precision::bf16;
  RunOptions opt;
  opt.backend = "cuda";
  opt.steps = 2;
  const auto r = run_plan(testing::tiny_gpt(), plan, opt, MPI_COMM_WORLD);
  CHECK(r.backend == "cuda");
  CHECK(r.step_times_s.size() == 2);
  CHECK(r.measured_step_time_s > 0);
  CHECK(r.loss[1] < r.warmup_loss[0]);
  CHECK(std::any_of(r.executed.notes.begin(), r.executed.notes.end(), [](const std::string& s) { return s.find("bf16") != std::string::npos; }));
}

TEST_CASE("1rank: cuda: without a device --backend cuda is refused naming it") {
  if (!testing::have_no_device()) return;
  RunOptions opt;
  opt.backend = "cuda";
  CHECK_THROWS_WITH_AS(run_plan(testing::tiny_gpt(), testing::plan_of(1, 1, 1), opt, MPI_COMM_WORLD),
                       doctest::Contains("no CUDA device: "), core::InputError);
}

// Under mpirun -np 2: NCCL all-reduce (tp2) and send/recv (pp2, 1F1B and GPipe) give the 1-rank fp32 losses.
TEST_CASE("2ranks: cuda: NCCL tp2, pp2, dp2 ZeRO-1, tp2 SP and cp2 match one rank (fp32)") {
  if (!testing::every_rank_has_devices(MPI_COMM_WORLD, 2)) return;  // every rank takes the same branch
  const auto model = testing::tiny_gpt();
  const int device = select_cuda_device(MPI_COMM_WORLD);
  auto gpu = make_cuda_backend(device, CudaPrecision::fp32);
  const auto ref = train(*gpu, resolve_run_plan(model, testing::plan_of(1, 1, 1), 1), MPI_COMM_SELF, true);
  auto sp = testing::plan_of(2, 1, 1);
  sp.sp = true;
  auto cp = testing::plan_of(1, 1, 1);
  cp.cp = 2;
  for (const auto& plan : {testing::plan_of(2, 1, 1), testing::plan_of(1, 2, 1),
                           testing::plan_of(1, 2, 1, 0, planner::Schedule::gpipe), testing::plan_of(1, 1, 2, 1), sp, cp}) {
    const auto loss = train(*gpu, resolve_run_plan(model, plan, 2), MPI_COMM_WORLD, true);
    for (std::size_t i = 0; i < ref.size(); ++i) {
      INFO("tp " << plan.tp << " pp " << plan.pp << " dp " << plan.dp << " step " << i);
      CHECK(std::abs(loss[i] - ref[i]) <= 1e-4 * std::abs(ref[i]));
    }
  }
}

}  // namespace
}  // namespace hpsim::exec
