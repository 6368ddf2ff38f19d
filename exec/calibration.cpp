#include "exec/calibration.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "core/error.hpp"
#include "exec/calibration_internal.hpp"
#include "exec/compute_backend.hpp"
#include "exec/mpi_comm.hpp"
#include "exec/seeded_random.hpp"
#include "models/operators.hpp"
#include "topologies/calibration.hpp"

namespace hpsim::exec {

namespace detail {

namespace {

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

}  // namespace

LinkFit measure_link(MPI_Comm world, WindowClock& clock, double window_s, Collective which,
                     const std::vector<double>& sizes_bytes, const CollectiveCall& call) {
  int ranks = 1;
  check_mpi(MPI_Comm_size(world, &ranks), "MPI_Comm_size");
  std::vector<double> secs;
  for (const double bytes : sizes_bytes) {
    const auto floats = static_cast<std::size_t>(bytes / 4);
    const double s = time_per_call(world, clock, window_s, [&] { call(which, floats); });
    secs.push_back(which == Collective::send_recv ? 0.5 * s : s);  // one way = half the round trip
  }
  const auto ab = fit_line(sizes_bytes, secs);
  const double r = ranks;
  switch (which) {
    case Collective::all_reduce: return per_step(ab, 2 * (r - 1), 2 * (r - 1) / r);  // ring: 2(n-1) steps of S/n
    case Collective::all_gather: return per_step(ab, r - 1, (r - 1) / r);
    case Collective::send_recv: return per_step(ab, 1, 1);
  }
  return {};
}

void measure_vector(ComputeBackend& be, WindowClock& clock, MPI_Comm world, const VectorShapes& shapes,
                    Calibration& c) {
  namespace vf = models::vector_flops;
  using core::VectorKernel;
  const std::int64_t rows = shapes.rows, h = shapes.hidden, ffn = shapes.ffn, heads = shapes.heads, s = shapes.seq;
  const auto x_n = static_cast<std::size_t>(rows * h), y_n = static_cast<std::size_t>(rows * ffn),
             p_n = static_cast<std::size_t>(heads * s * s);
  Buffer x(be, x_n), y(be, x_n), dx(be, x_n), g(be, static_cast<std::size_t>(h)), bb(be, static_cast<std::size_t>(h)),
      dg(be, static_cast<std::size_t>(h)), db(be, static_cast<std::size_t>(h)), mean(be, static_cast<std::size_t>(rows)),
      rstd(be, static_cast<std::size_t>(rows)), u(be, 2 * y_n), v(be, 2 * y_n), du(be, y_n), p(be, p_n), dp(be, p_n),
      ds(be, p_n), p0(be, p_n);
  // Inputs like a layer's activations: independent standard-normal values (seeded). libm's tanh and exp take
  // different paths by magnitude, so the branch predictor decides their speed: a constant or smooth input (one path,
  // or a learnable pattern) runs up to 1.5x faster than independent values, as activations are. The values repeat
  // every 2^20 (larger buffers: a GPU's), which no CPU size reaches.
  std::vector<float> spread(std::max({x_n, 2 * y_n, p_n}));
  const std::size_t period = std::size_t{1} << 20;
  for (std::size_t i = 0; i < spread.size(); ++i)
    spread[i] = i < period ? seeded_normal(7, 0, static_cast<std::int64_t>(i)) : spread[i - period];
  be.upload(x.data(), spread.data(), x_n);
  be.fill(g.data(), 1.0F, static_cast<std::size_t>(h));
  be.upload(u.data(), spread.data(), 2 * y_n);  // GELU's input, or SwiGLU's [gate | up] rows of ffn each
  be.upload(dx.data(), spread.data() + 1, x_n - 1);
  be.upload(du.data(), spread.data() + 1, y_n - 1);
  be.upload(p0.data(), spread.data(), p_n);
  be.upload(dp.data(), spread.data() + 1, p_n - 1);
  const auto xs = static_cast<double>(x_n), ys = static_cast<double>(y_n), ps = static_cast<double>(p_n);
  auto measure = [&](VectorKernel kernel, double flops, auto&& body) {
    const double t = time_per_call(world, clock, 0.1, body);
    c.vector_kernels[kernel] = {t, flops / t};
  };
  measure(VectorKernel::layernorm, xs * (vf::kLayerNormForward + vf::kLayerNormBackward), [&] {
    be.layernorm_forward(x.data(), g.data(), bb.data(), y.data(), mean.data(), rstd.data(), rows, h, 1e-5F);
    be.layernorm_backward(dx.data(), x.data(), g.data(), mean.data(), rstd.data(), y.data(), dg.data(), db.data(), rows,
                          h);
  });
  measure(VectorKernel::rmsnorm, xs * (vf::kRmsNormForward + vf::kRmsNormBackward), [&] {
    be.rmsnorm_forward(x.data(), g.data(), y.data(), rstd.data(), rows, h, 1e-5F);
    be.rmsnorm_backward(dx.data(), x.data(), g.data(), rstd.data(), y.data(), dg.data(), rows, h);
  });
  measure(VectorKernel::gelu, ys * (vf::kGeluForward + vf::kGeluBackward), [&] {
    be.gelu_forward(u.data(), v.data(), y_n);
    be.gelu_backward(u.data(), du.data(), v.data(), y_n);
  });
  measure(VectorKernel::swiglu, ys * (vf::kSwigluForward + vf::kSwigluBackward), [&] {
    be.swiglu_forward(u.data(), v.data(), rows, ffn);
    be.swiglu_backward(u.data(), du.data(), v.data(), rows, ffn);
  });
  const double softmax_and_fill = time_per_call(world, clock, 0.1, [&] {
    be.copy(p.data(), p0.data(), p_n);  // fresh scores each call (not counted: the executor writes them by GEMM)
    be.causal_softmax_forward(p.data(), heads, s, s, 0, 0.18F);
    be.softmax_backward(p.data(), dp.data(), ds.data(), heads * s, s, 0.18F);
  });
  // The copy is not an operator of hpsim's model: take its time out.
  const double fill = time_per_call(world, clock, 0.02, [&] { be.copy(p.data(), p0.data(), p_n); });
  const double softmax_s = std::max(softmax_and_fill - fill, 1e-9);
  c.vector_kernels[VectorKernel::softmax] = {
      softmax_s, ps * (vf::kCausalUnmasked * vf::kSoftmaxForward + vf::kSoftmaxBackward) / softmax_s};
  // One rate for every other element-wise operator: GPT's three kernels together (the mix of its layer).
  double flops = 0, seconds = 0;
  for (const auto k : {VectorKernel::layernorm, VectorKernel::gelu, VectorKernel::softmax}) {
    flops += c.vector_kernels[k].flop_per_s * c.vector_kernels[k].seconds;
    seconds += c.vector_kernels[k].seconds;
  }
  c.vector_flop_per_s = flops / seconds;
}

}  // namespace detail

namespace {

using i64 = std::int64_t;
using detail::time_per_call;

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

std::vector<GemmRate> measure_gemms(ComputeBackend& be, const CalibrationOptions& o, MPI_Comm world) {
  std::vector<i64> dims = o.dims;
  if (dims.empty()) dims = {32, 128, 256, 512, 1024, 2048};
  const double window_s = o.seconds_per_shape > 0 ? o.seconds_per_shape : 0.03;
  const i64 largest = *std::max_element(dims.begin(), dims.end());
  Buffer a(be, static_cast<std::size_t>(largest * largest)), b(be, static_cast<std::size_t>(largest * largest)),
      c(be, static_cast<std::size_t>(largest * largest));
  std::vector<float> host(static_cast<std::size_t>(largest * largest));
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>((i * 7919) % 1000) * 1e-3F - 0.5F;
  be.upload(a.data(), host.data(), host.size());
  be.upload(b.data(), host.data(), host.size());
  detail::WallClock clock(&be);
  std::vector<GemmRate> out;
  for (const i64 m : dims)
    for (const i64 n : dims)
      for (const i64 k : dims) {
        // The grid's largest corner (beyond 1024^3 multiply-adds) would take most of the time budget; shapes that
        // large run at the best rate anyway.
        if (static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) > 1024.0 * 1024.0 * 1024.0)
          continue;
        const double s = time_per_call(world, clock, window_s, [&] {
          be.gemm(false, false, m, n, k, 1.0F, a.data(), k, b.data(), n, 0.0F, c.data(), n);
        });
        out.push_back({m, n, k, topologies::Precision::fp32, 2.0 * static_cast<double>(m * n * k) / s});
      }
  return out;
}

/// The executor's streaming kernels (axpy as in the residual adds and gradient accumulation, copy) at the example
/// models' activation sizes: bytes read + written / time. This is hpsim's hbm_gbyte_per_s for the CPU.
double measure_stream(ComputeBackend& be, MPI_Comm world) {
  const std::size_t n = 512 * 1024;  // rows 512 x ffn 1024, as the GELU of measure_vector
  Buffer x(be, n), y(be, n), z(be, n);
  be.fill(x.data(), 0.3F, n);
  be.fill(y.data(), 0.1F, n);
  const double bytes = 4.0 * static_cast<double>(n) * (3.0 + 2.0);  // axpy reads 2, writes 1; copy reads 1, writes 1
  detail::WallClock clock(&be);
  const double sec = time_per_call(world, clock, 0.2, [&] {
    be.axpy(y.data(), 1e-3F, x.data(), n);
    be.copy(z.data(), y.data(), n);
  });
  return bytes / sec;
}

/// MPI collectives on host buffers of up to 4 MiB (the executor's CPU runs use MPI).
void measure_mpi_links(MPI_Comm world, Calibration& c) {
  const std::vector<double> sizes = {16.0 * 1024, 128.0 * 1024, 1024.0 * 1024, 4.0 * 1024 * 1024};
  std::vector<float> in(static_cast<std::size_t>(sizes.back() / 4)), out(in.size());
  int rank = 0;
  check_mpi(MPI_Comm_rank(world, &rank), "MPI_Comm_rank");
  const detail::CollectiveCall call = [&](detail::Collective which, std::size_t floats) {
    const int n = static_cast<int>(floats);
    switch (which) {
      case detail::Collective::all_reduce:
        check_mpi(MPI_Allreduce(in.data(), out.data(), n, MPI_FLOAT, MPI_SUM, world), "MPI_Allreduce");
        break;
      case detail::Collective::all_gather:
        check_mpi(MPI_Allgather(in.data(), n / c.ranks, MPI_FLOAT, out.data(), n / c.ranks, MPI_FLOAT, world),
                  "MPI_Allgather");
        break;
      case detail::Collective::send_recv:  // ping-pong between ranks 0 and 1
        if (rank == 0) {
          check_mpi(MPI_Send(in.data(), n, MPI_FLOAT, 1, 7, world), "MPI_Send");
          check_mpi(MPI_Recv(out.data(), n, MPI_FLOAT, 1, 8, world, MPI_STATUS_IGNORE), "MPI_Recv");
        } else if (rank == 1) {
          check_mpi(MPI_Recv(out.data(), n, MPI_FLOAT, 0, 7, world, MPI_STATUS_IGNORE), "MPI_Recv");
          check_mpi(MPI_Send(in.data(), n, MPI_FLOAT, 0, 8, world), "MPI_Send");
        }
        break;
    }
  };
  detail::WallClock clock;
  c.all_reduce = detail::measure_link(world, clock, 0.06, detail::Collective::all_reduce, sizes, call);
  c.all_gather = detail::measure_link(world, clock, 0.06, detail::Collective::all_gather, sizes, call);
  c.send_recv = detail::measure_link(world, clock, 0.06, detail::Collective::send_recv, sizes, call);
}

void calibrate_cpu(const CalibrationOptions& options, MPI_Comm world, Calibration& c) {
  auto be = make_cpu_backend();
  c.gemm = measure_gemms(*be, options, world);
  c.stream_bytes_per_s = measure_stream(*be, world);
  detail::WallClock clock(be.get());
  // The example models' sizes (rows 512, hidden 256, ffn 1024, 16 heads of sequence 128).
  detail::measure_vector(*be, clock, world, {.rows = 512, .hidden = 256, .ffn = 1024, .heads = 16, .seq = 128}, c);
  {
    Buffer one(*be, 1);
    c.call_overhead_s = time_per_call(world, clock, 0.005, [&] { be->axpy(one.data(), 1.0F, one.data(), 1); }, 1000);
  }
  if (c.ranks >= 2) {
    c.measured_links = true;
    measure_mpi_links(world, c);
  }
}

/// A YAML double-quoted scalar.
std::string quoted(const std::string& s) {
  std::string q = "\"";
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') q += '\\';
    q += ch;
  }
  return q + "\"";
}

constexpr double kGiB = 1024.0 * 1024 * 1024;

}  // namespace

void check_calibration(const CalibrationOptions& options, MPI_Comm world) {
  if (options.backend != "cpu" && options.backend != "cuda")
    throw core::InputError("calibrate", "--backend",
                           "'" + options.backend + "' cannot be calibrated (expected cpu or cuda)");
  for (const i64 d : options.dims)
    if (d <= 0)
      throw core::InputError("calibrate", "--dims", "expected positive GEMM dimensions, got " + std::to_string(d));
  if (options.backend == "cuda") {
#ifdef HPSIM_HAVE_CUDA
    detail::check_cuda_calibration(options, world);
#else
    (void)world;
    throw core::InputError("calibrate", "--backend",
                           "'cuda' cannot be calibrated by this build: it was built without CUDA and NCCL (configure "
                           "with the CUDA Toolkit and NCCL installed; option HPSIM_BUILD_CUDA)");
#endif
  }
}

Calibration calibrate(const CalibrationOptions& options, MPI_Comm world) {
  check_calibration(options, world);
  const auto start = std::chrono::steady_clock::now();
  Calibration c;
  c.backend = options.backend;
  check_mpi(MPI_Comm_size(world, &c.ranks), "MPI_Comm_size");
  c.hostname = host_name();
  c.cpu_model = cpu_model();
  c.date = utc_now();
  c.ram_bytes = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
#ifdef HPSIM_HAVE_CUDA
  if (options.backend == "cuda") detail::calibrate_cuda(options, world, c);
#endif
  if (options.backend == "cpu") calibrate_cpu(options, world, c);
  // Rank 0's wall time is everyone's (collective); broadcast so that the result is the same on every rank.
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  check_mpi(MPI_Bcast(&secs, 1, MPI_DOUBLE, 0, world), "MPI_Bcast");
  c.seconds = secs;
  return c;
}

namespace {

/// `v` to 6 significant digits.
double round6(double v) { return v == 0 ? 0 : std::stod(fmt::format("{:.6g}", v)); }

topologies::LinkFit fit_data(const LinkFit& f) {
  return {round6(f.latency_s * 1e6), round6(f.bandwidth_bytes_per_s / 1e9)};
}

/// The comment header: what was measured, for people (the numbers the loader uses are in the block).
void write_header(std::ostringstream& y, const Calibration& c) {
  const bool gpu = c.backend == "cuda";
  const std::string ranks = fmt::format("{} rank{} busy at once", c.ranks, c.ranks == 1 ? "" : "s");
  y << "# hpsim calibrate: this machine as the executor runs it (backend " << c.backend
    << (gpu ? ", one GPU per rank, " : ", fp32, ") << ranks << ")\n";
  y << "# date: " << c.date << "\n# host: " << c.hostname << "\n# cpu: " << c.cpu_model << "\n";
  if (gpu) {
    y << fmt::format("# gpu: {}, {:.2f} GiB, {} SMs (rank 0's; cudaGetDeviceProperties)\n", c.device,
                     c.device_memory_bytes / kGiB, c.sm_count);
    y << fmt::format("# CUDA driver {}, runtime {}; NCCL {}\n", c.cuda_driver, c.cuda_runtime, c.nccl);
  }
  y << "# ranks: " << c.ranks << "\n";
  if (gpu) {
    y << "# GEMM: cuBLAS cublasGemmEx on device buffers, row-major NN, CUDA events, median of 3 windows; fp32 means "
         "TF32 tensor cores (fp32 operands and output, CUBLAS_COMPUTE_32F_FAST_TF32), as in hpsim's GPU presets; "
         "bf16/fp16: 16-bit operands, fp32 accumulation and output (the executor's 16-bit GEMM)\n";
    if (c.strict_fp32_dim > 0)
      y << fmt::format("# strict FP32 (CUBLAS_COMPUTE_32F, what the executor's fp32 plans run): {:.1f} TFLOP/s at "
                       "{}^3; not in this file\n",
                       c.strict_fp32_flop_per_s / 1e12, c.strict_fp32_dim);
    y << fmt::format("# HBM: device-to-device copy of {:.0f} MiB (bytes read + written / time); kernel launch: one "
                     "tiny kernel among many queued\n",
                     c.copy_bytes / (1024.0 * 1024));
    y << "# memory_reserve_gib: GPU memory in use with every calibration buffer freed (CUDA context, cuBLAS, NCCL), "
         "largest over ranks; no allowance for allocator fragmentation\n";
  } else {
    y << "# GEMM: fp32, one BLAS thread per rank; hbm_gbyte_per_s: the streaming kernels (axpy, copy); hbm_gib: RAM "
         "/ ranks\n";
  }
  // A summary for people (calibrate prints this header); the loader reads the block only.
  std::map<topologies::Precision, double> best;
  for (const auto& g : c.gemm) best[g.precision] = std::max(best[g.precision], g.flop_per_s);
  y << "# best GEMM rate per rank:";
  for (const auto& [p, rate] : best) y << fmt::format(" {} {:.4g} TFLOP/s;", topologies::to_string(p), rate / 1e12);
  y << fmt::format(" streaming {:.2f} GB/s; element-wise {:.2f} GFLOP/s\n", c.stream_bytes_per_s / 1e9,
                   c.vector_flop_per_s / 1e9);
  if (c.measured_links) {
    const std::string comm = gpu ? "NCCL" : "MPI";
    auto line = [&](const char* name, const LinkFit& f) {
      y << fmt::format("# {} {}: {:.2f} us per step + bytes / {:.3f} GB/s\n", comm, name, f.latency_s * 1e6,
                       f.bandwidth_bytes_per_s / 1e9);
    };
    line("all-reduce (ring model)", c.all_reduce);
    line("all-gather (ring model)", c.all_gather);
    line("send/recv", c.send_recv);
  }
  y << "# calibration: element-wise rates are FP32 vector flops as hpsim counts them / time, forward + backward; "
       "fits are per algorithm step (ring all-reduce 2(n-1) steps of S/n, all-gather n-1, send/recv one of S)\n";
  if (c.measured_links)
    y << "# the intra-node link is the all-reduce ring fit (" << (gpu ? "NCCL" : "MPI")
      << ": the executor's TP and DP collectives)\n";
  else
    y << "# one rank: no " << (gpu ? "NCCL" : "MPI")
      << " measurement; the intra-node link is nominal (the device's streaming rate, 1 us; unused by one-rank plans)\n";
  y << fmt::format("# calibration took {:.1f} s. Written by hpsim calibrate; regenerate rather than edit.\n", c.seconds);
}

}  // namespace

topologies::Calibration calibration_data(const Calibration& c) {
  topologies::Calibration d;
  d.backend = c.backend;
  d.ranks = c.ranks;
  d.date = c.date;
  d.device = c.backend == "cuda" ? c.device : c.cpu_model;
  d.host = c.hostname;
  for (const auto& g : c.gemm) d.gemm[g.precision].push_back({g.m, g.n, g.k, round6(g.flop_per_s / 1e12)});
  if (c.vector_flop_per_s > 0) d.vector_tflop_per_s = round6(c.vector_flop_per_s / 1e12);
  for (const auto& [kernel, rate] : c.vector_kernels) d.vector_table_tflop_per_s[kernel] = round6(rate.flop_per_s / 1e12);
  if (c.measured_links) {
    // A fit without a bandwidth was not measured (a calibration made by hand may hold only some).
    if (c.all_reduce.bandwidth_bytes_per_s > 0) d.collectives["all_reduce"]["ring"] = fit_data(c.all_reduce);
    if (c.all_gather.bandwidth_bytes_per_s > 0) d.collectives["all_gather"]["ring"] = fit_data(c.all_gather);
    if (c.send_recv.bandwidth_bytes_per_s > 0) d.send_recv = fit_data(c.send_recv);
  }
  return d;
}

std::string calibration_to_yaml(const Calibration& c) {
  const bool gpu = c.backend == "cuda";
  std::ostringstream y;
  write_header(y, c);
  y << fmt::format("name: localhost-{}{}ranks\n", gpu ? "cuda-" : "", c.ranks);
  y << "source: "
    << quoted(fmt::format("hpsim calibrate --backend {} on {} ({}), {} ranks, {}", c.backend, c.hostname,
                          gpu ? c.device : c.cpu_model, c.ranks, c.date))
    << "\n";
  y << "nodes: 1\n" << "gpus_per_node: " << c.ranks << "\n";
  y << "nics_per_node: 1\n";
  // The fits are achieved rates: no further efficiency on the links.
  y << "intra_node_efficiency: 1\ninter_node_efficiency: 1\n";
  y << fmt::format("memory_reserve_gib: {:.6g}\n", gpu ? c.reserved_bytes / kGiB : 0.0);
  // A GPU's collectives run as kernels on its SMs beside the compute they overlap (base.yaml's figure); a CPU
  // backend's MPI collectives progress inside the calls, on no SM of the one "SM" the CPU is described as.
  if (!gpu) y << "collective_kernel_sms: 0\n";
  y << "gpu:\n";
  if (gpu) {
    y << "  name: " << quoted(c.device) << "\n";
    y << "  source: "
      << quoted(fmt::format("{}, {} SMs, CUDA driver {}, runtime {}, NCCL {}; measured by hpsim calibrate", c.device,
                            c.sm_count, c.cuda_driver, c.cuda_runtime, c.nccl))
      << "\n";
    y << fmt::format("  hbm_gib: {:.6g}\n", c.device_memory_bytes / kGiB);
  } else {
    y << "  name: cpu-" << c.hostname << "\n";
    y << "  source: " << quoted(fmt::format("{} ({}), measured by hpsim calibrate", c.cpu_model, c.backend)) << "\n";
    y << fmt::format("  hbm_gib: {:.6g}\n", c.ram_bytes / c.ranks / kGiB);
  }
  y << fmt::format("  hbm_gbyte_per_s: {:.6g}\n", c.stream_bytes_per_s / 1e9);
  y << "  sm_count: " << (gpu ? std::max(c.sm_count, 1) : 1) << "\n";
  // Measured rates are what the kernels achieve (fractions 1); the executor issues its kernels directly (no
  // framework host time).
  y << fmt::format("  efficiency: {{gemm_peak_fraction: 1, in_training_fraction: 1, memory_peak_fraction: 1, kernel_overhead_us: {:.4g}, "
                   "host_overhead_us: 0}}\n",
                   c.call_overhead_s * 1e6);
  YAML::Node block;
  block["calibration"] = topologies::calibration_to_node(calibration_data(c));
  YAML::Emitter out;
  out << block;
  y << out.c_str() << "\n";
  return y.str();
}

}  // namespace hpsim::exec
