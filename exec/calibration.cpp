#include "exec/calibration.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/error.hpp"
#include "exec/compute_backend.hpp"
#include "exec/mpi_comm.hpp"
#include "models/operators.hpp"

namespace hpsim::exec {

namespace {

using i64 = std::int64_t;

double max_over(MPI_Comm world, double v) {
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, world), "MPI_Allreduce");
  return v;
}

/// Runs `body` on every rank at once: one warm-up call, a probe call to size the window, then `calls` calls timed
/// together. Returns the seconds per call (max over ranks: the slowest rank bounds a step, as in a run).
template <class F>
double time_per_call(MPI_Comm world, double window_s, F&& body, i64 min_calls = 2) {
  body();
  check_mpi(MPI_Barrier(world), "MPI_Barrier");
  double t0 = MPI_Wtime();
  body();
  const double probe = max_over(world, MPI_Wtime() - t0);
  const i64 calls = std::max<i64>(min_calls, static_cast<i64>(std::ceil(window_s / std::max(probe, 1e-9))));
  // Three windows of a third each, the median kept: a neighbour's burst of work (other processes on the machine)
  // moves one window, not the result.
  const i64 per_window = std::max<i64>(1, (calls + 2) / 3);
  std::vector<double> windows;
  for (int w = 0; w < 3; ++w) {
    check_mpi(MPI_Barrier(world), "MPI_Barrier");
    t0 = MPI_Wtime();
    for (i64 i = 0; i < per_window; ++i) body();
    windows.push_back(max_over(world, MPI_Wtime() - t0) / static_cast<double>(per_window));
  }
  std::sort(windows.begin(), windows.end());
  return windows[1];
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto s = line.substr(colon + 1);
        s.erase(0, s.find_first_not_of(' '));
        return s;
      }
    }
  }
  return "unknown";
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// Least-squares fit of seconds = a + b * bytes.
std::pair<double, double> fit_line(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sx += x[i], sy += y[i], sxx += x[i] * x[i], sxy += x[i] * y[i];
  const double b = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  return {(sy - b * sx) / n, b};
}

/// Converts a fit of a whole collective (seconds = a + b * S) into hpsim's per-step model: `steps` algorithm steps
/// of latency each, `link_fraction` * S bytes over each link.
LinkFit per_step(std::pair<double, double> ab, double steps, double link_fraction) {
  LinkFit f;
  f.latency_s = std::max(ab.first / steps, 1e-7);
  f.bandwidth_bytes_per_s = link_fraction / std::max(ab.second, 1e-15);
  return f;
}

std::vector<GemmRate> measure_gemms(ComputeBackend& be, const CalibrationOptions& o, MPI_Comm world) {
  std::vector<i64> dims = o.dims;
  if (dims.empty()) dims = {32, 128, 256, 512, 1024, 2048};
  const i64 largest = *std::max_element(dims.begin(), dims.end());
  Buffer a(be, static_cast<std::size_t>(largest * largest)), b(be, static_cast<std::size_t>(largest * largest)),
      c(be, static_cast<std::size_t>(largest * largest));
  std::vector<float> host(static_cast<std::size_t>(largest * largest));
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>((i * 7919) % 1000) * 1e-3F - 0.5F;
  be.upload(a.data(), host.data(), host.size());
  be.upload(b.data(), host.data(), host.size());
  std::vector<GemmRate> out;
  for (const i64 m : dims)
    for (const i64 n : dims)
      for (const i64 k : dims) {
        // The grid's largest corner (beyond 1024^3 multiply-adds) would take most of the time budget; shapes that
        // large run at the best rate anyway.
        if (static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) > 1024.0 * 1024.0 * 1024.0)
          continue;
        const double s = time_per_call(world, o.seconds_per_shape, [&] {
          be.gemm(false, false, m, n, k, 1.0F, a.data(), k, b.data(), n, 0.0F, c.data(), n);
          be.synchronize();
        });
        out.push_back({m, n, k, 2.0 * static_cast<double>(m * n * k) / s});
      }
  return out;
}

/// The executor's streaming kernels (axpy as in the residual adds and gradient accumulation, copy) at the example
/// models' activation sizes: bytes read + written / time. This is hpsim's hbm_gbyte_per_s for the CPU.
double measure_stream(ComputeBackend& be, MPI_Comm world) {
  const std::size_t n = 512 * 1024;  // rows 512 x ffn 1024, as measure_vector's GELU
  Buffer x(be, n), y(be, n), z(be, n);
  be.fill(x.data(), 0.3F, n);
  be.fill(y.data(), 0.1F, n);
  const double bytes = 4.0 * static_cast<double>(n) * (3.0 + 2.0);  // axpy reads 2, writes 1; copy reads 1, writes 1
  const double sec = time_per_call(world, 0.2, [&] {
    be.axpy(y.data(), 1e-3F, x.data(), n);
    be.copy(z.data(), y.data(), n);
    be.synchronize();
  });
  return bytes / sec;
}

/// The executor's element-wise kernels (LayerNorm, GELU, causal softmax, forward and backward) at the example
/// models' sizes, kernel by kernel; rate = the FP32 vector flops hpsim's operator model counts for them
/// (models::vector_flops) / their time. These kernels are bound by arithmetic on a CPU (libm's tanh and exp), so
/// that the time is the compute side of hpsim's element-wise roofline.
void measure_vector(ComputeBackend& be, MPI_Comm world, Calibration& c) {
  namespace vf = models::vector_flops;
  const i64 rows = 512, h = 256, ffn = 1024, heads = 16, s = 128;
  const auto x_n = static_cast<std::size_t>(rows * h), y_n = static_cast<std::size_t>(rows * ffn),
             p_n = static_cast<std::size_t>(heads * s * s);
  Buffer x(be, x_n), y(be, x_n), dx(be, x_n), g(be, static_cast<std::size_t>(h)), bb(be, static_cast<std::size_t>(h)),
      dg(be, static_cast<std::size_t>(h)), db(be, static_cast<std::size_t>(h)), mean(be, static_cast<std::size_t>(rows)),
      rstd(be, static_cast<std::size_t>(rows)), u(be, y_n), v(be, y_n), du(be, y_n), p(be, p_n), dp(be, p_n),
      p0(be, p_n);
  // Inputs spread like a layer's activations (about unit scale, both signs): libm's tanh and exp take different
  // paths by magnitude, so that a constant input (one path, perfectly predicted branches) runs faster than a run.
  std::vector<float> spread(std::max({x_n, y_n, p_n}));
  for (std::size_t i = 0; i < spread.size(); ++i)
    spread[i] = 3.0F * std::sin(0.7F * static_cast<float>(i) + 0.3F * static_cast<float>(i % 97));
  be.upload(x.data(), spread.data(), x_n);
  be.fill(g.data(), 1.0F, static_cast<std::size_t>(h));
  be.upload(u.data(), spread.data(), y_n);
  be.upload(dx.data(), spread.data() + 1, x_n - 1);
  be.upload(du.data(), spread.data() + 1, y_n - 1);
  be.upload(p0.data(), spread.data(), p_n);
  be.upload(dp.data(), spread.data() + 1, p_n - 1);
  const double ln_flops = static_cast<double>(x_n) * (vf::kLayerNormForward + vf::kLayerNormBackward);
  const double gelu_flops = static_cast<double>(y_n) * (vf::kGeluForward + vf::kGeluBackward);
  const double softmax_flops =
      static_cast<double>(p_n) * (vf::kCausalUnmasked * vf::kSoftmaxForward + vf::kSoftmaxBackward);
  c.layernorm_s = time_per_call(world, 0.1, [&] {
    be.layernorm_forward(x.data(), g.data(), bb.data(), y.data(), mean.data(), rstd.data(), rows, h, 1e-5F);
    be.layernorm_backward(dx.data(), x.data(), g.data(), mean.data(), rstd.data(), y.data(), dg.data(), db.data(), rows,
                          h);
    be.synchronize();
  });
  c.gelu_s = time_per_call(world, 0.1, [&] {
    be.gelu_forward(u.data(), v.data(), y_n);
    be.gelu_backward(u.data(), du.data(), v.data(), y_n);
    be.synchronize();
  });
  const double softmax_and_fill = time_per_call(world, 0.1, [&] {
    be.copy(p.data(), p0.data(), p_n);  // fresh scores each call (not counted: the executor writes them by GEMM)
    be.causal_softmax_forward(p.data(), heads, s, 0.18F);
    be.softmax_backward(p.data(), dp.data(), v.data(), heads, s, 0.18F);
    be.synchronize();
  });
  // The copy is not an operator of hpsim's model: take its time out.
  const double fill = time_per_call(world, 0.02, [&] {
    be.copy(p.data(), p0.data(), p_n);
    be.synchronize();
  });
  c.softmax_s = std::max(softmax_and_fill - fill, 1e-9);
  c.layernorm_flop_per_s = ln_flops / c.layernorm_s;
  c.gelu_flop_per_s = gelu_flops / c.gelu_s;
  c.softmax_flop_per_s = softmax_flops / c.softmax_s;
  // One rate for all: the flops of the three over their time together (the mix of an example model's layer).
  c.vector_flop_per_s = (ln_flops + gelu_flops + softmax_flops) / (c.layernorm_s + c.gelu_s + c.softmax_s);
}

LinkFit measure_collective(MPI_Comm world, int ranks, const char* which) {
  const std::vector<double> sizes = {16.0 * 1024, 128.0 * 1024, 1024.0 * 1024, 4.0 * 1024 * 1024};
  std::vector<float> in(static_cast<std::size_t>(sizes.back() / 4)), out(in.size());
  int rank = 0;
  MPI_Comm_rank(world, &rank);
  std::vector<double> secs;
  const std::string w = which;
  for (const double bytes : sizes) {
    const int n = static_cast<int>(bytes / 4);
    double s = 0;
    if (w == "all_reduce") {
      s = time_per_call(world, 0.06, [&] {
        check_mpi(MPI_Allreduce(in.data(), out.data(), n, MPI_FLOAT, MPI_SUM, world), "MPI_Allreduce");
      });
    } else if (w == "all_gather") {
      s = time_per_call(world, 0.06, [&] {
        check_mpi(MPI_Allgather(in.data(), n / ranks, MPI_FLOAT, out.data(), n / ranks, MPI_FLOAT, world),
                  "MPI_Allgather");
      });
    } else {  // send/recv: ping-pong between ranks 0 and 1, one way = half the round trip
      s = 0.5 * time_per_call(world, 0.06, [&] {
        if (rank == 0) {
          check_mpi(MPI_Send(in.data(), n, MPI_FLOAT, 1, 7, world), "MPI_Send");
          check_mpi(MPI_Recv(out.data(), n, MPI_FLOAT, 1, 8, world, MPI_STATUS_IGNORE), "MPI_Recv");
        } else if (rank == 1) {
          check_mpi(MPI_Recv(out.data(), n, MPI_FLOAT, 0, 7, world, MPI_STATUS_IGNORE), "MPI_Recv");
          check_mpi(MPI_Send(in.data(), n, MPI_FLOAT, 0, 8, world), "MPI_Send");
        }
      });
    }
    secs.push_back(s);
  }
  const auto ab = fit_line(sizes, secs);
  const double r = ranks;
  if (w == "all_reduce") return per_step(ab, 2 * (r - 1), 2 * (r - 1) / r);  // ring: 2(n-1) steps of S/n
  if (w == "all_gather") return per_step(ab, r - 1, (r - 1) / r);
  return per_step(ab, 1, 1);
}

}  // namespace

Calibration calibrate(const CalibrationOptions& options, MPI_Comm world) {
  if (options.backend != "cpu")
    throw core::InputError("command line", "--backend",
                           "'" + options.backend + "' cannot be calibrated by this build (expected cpu)");
  const auto start = std::chrono::steady_clock::now();
  Calibration c;
  c.backend = options.backend;
  check_mpi(MPI_Comm_size(world, &c.ranks), "MPI_Comm_size");
  c.hostname = host_name();
  c.cpu_model = cpu_model();
  c.date = utc_now();
  c.ram_bytes = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
  auto be = make_cpu_backend();
  c.gemm = measure_gemms(*be, options, world);
  c.stream_bytes_per_s = measure_stream(*be, world);
  measure_vector(*be, world, c);
  {
    Buffer one(*be, 1);
    c.call_overhead_s = time_per_call(world, 0.005, [&] { be->axpy(one.data(), 1.0F, one.data(), 1); }, 1000);
  }
  if (c.ranks >= 2) {
    c.measured_links = true;
    c.all_reduce = measure_collective(world, c.ranks, "all_reduce");
    c.all_gather = measure_collective(world, c.ranks, "all_gather");
    c.send_recv = measure_collective(world, c.ranks, "send_recv");
  }
  // Rank 0's wall time is everyone's (collective); broadcast so that the result is the same on every rank.
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  check_mpi(MPI_Bcast(&secs, 1, MPI_DOUBLE, 0, world), "MPI_Bcast");
  c.seconds = secs;
  return c;
}

std::string calibration_to_yaml(const Calibration& c) {
  double best = 0;
  for (const auto& g : c.gemm) best = std::max(best, g.flop_per_s);
  // One rank alone has no communication; describe shared memory by the element-wise rate and the call overhead.
  const LinkFit link = c.measured_links ? c.all_reduce : LinkFit{1e-6, c.stream_bytes_per_s};
  std::ostringstream y;
  y << "# hpsim calibrate: this machine as the executor runs it (backend " << c.backend << ", fp32, " << c.ranks
    << " rank" << (c.ranks == 1 ? "" : "s") << " busy at once)\n";
  y << "# date: " << c.date << "\n# host: " << c.hostname << "\n# cpu: " << c.cpu_model << "\n# ranks: " << c.ranks
    << "\n";
  y << fmt::format("# GEMM (fp32, one BLAS thread per rank): {} shapes, best {:.1f} GFLOP/s per rank\n", c.gemm.size(),
                   best / 1e9);
  y << fmt::format("# streaming kernels (axpy, copy): {:.2f} GB/s per rank; call overhead {:.3f} us\n",
                   c.stream_bytes_per_s / 1e9, c.call_overhead_s * 1e6);
  y << fmt::format("# element-wise arithmetic (FP32 vector flops as hpsim counts them / time, forward + backward): "
                   "LayerNorm {:.2f}, GELU {:.2f}, causal softmax {:.2f}, together {:.2f} GFLOP/s per rank\n",
                   c.layernorm_flop_per_s / 1e9, c.gelu_flop_per_s / 1e9, c.softmax_flop_per_s / 1e9,
                   c.vector_flop_per_s / 1e9);
  if (c.measured_links) {
    auto line = [&](const char* name, const LinkFit& f) {
      y << fmt::format("# MPI {}: {:.2f} us per step + bytes / {:.3f} GB/s\n", name, f.latency_s * 1e6,
                       f.bandwidth_bytes_per_s / 1e9);
    };
    line("all-reduce (ring model)", c.all_reduce);
    line("all-gather (ring model)", c.all_gather);
    line("send/recv", c.send_recv);
    y << "# intra-node link below: the all-reduce fit (the executor's TP and DP collectives)\n";
  } else {
    y << "# one rank: no MPI measurement; the intra-node link below is nominal (unused by one-rank plans)\n";
  }
  y << fmt::format("# calibration took {:.1f} s. Written by hpsim calibrate; regenerate rather than edit.\n", c.seconds);
  y << fmt::format("name: localhost-{}ranks\n", c.ranks);
  y << fmt::format("source: \"hpsim calibrate --backend {} on {} ({}), {} ranks, {}\"\n", c.backend, c.hostname,
                   c.cpu_model, c.ranks, c.date);
  y << "nodes: 1\n" << "gpus_per_node: " << c.ranks << "\n";
  y << fmt::format("intra_node_bandwidth_gbyte_per_s: {:.6g}\n", link.bandwidth_bytes_per_s / 1e9);
  y << fmt::format("intra_node_latency_us: {:.6g}\n", link.latency_s * 1e6);
  y << "intra_node_efficiency: 1\n";
  y << "nics_per_node: 1\n";
  y << fmt::format("nic_bandwidth_gbit_per_s: {:.6g}\n", link.bandwidth_bytes_per_s * 8 / 1e9);
  y << "inter_node_efficiency: 1\n";
  y << "memory_reserve_gib: 0\n";
  y << "gpu:\n";
  y << "  name: cpu-" << c.hostname << "\n";
  y << fmt::format("  source: \"{} ({}), measured by hpsim calibrate\"\n", c.cpu_model, c.backend);
  y << fmt::format("  peak_tflop_per_s: {{fp32: {:.6g}}}  # best measured GEMM rate per rank\n", best / 1e12);
  y << fmt::format("  hbm_gib: {:.6g}  # RAM / ranks\n", c.ram_bytes / c.ranks / (1024.0 * 1024 * 1024));
  y << fmt::format("  hbm_gbyte_per_s: {:.6g}  # streaming kernels\n", c.stream_bytes_per_s / 1e9);
  y << fmt::format("  vector_tflop_per_s: {:.6g}  # element-wise kernels' arithmetic\n", c.vector_flop_per_s / 1e12);
  y << "  sm_count: 1\n";
  y << fmt::format("  efficiency: {{gemm_peak_fraction: 1, memory_peak_fraction: 1, kernel_overhead_us: {:.4g}}}\n",
                   c.call_overhead_s * 1e6);
  y << "  gemm_table:\n";
  for (const auto& g : c.gemm)
    y << fmt::format("    - {{m: {}, n: {}, k: {}, precision: fp32, tflop_per_s: {:.6g}}}\n", g.m, g.n, g.k,
                     g.flop_per_s / 1e12);
  return y.str();
}

}  // namespace hpsim::exec
