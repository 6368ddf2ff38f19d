/// `hpsim calibrate --backend cuda`: one GPU per rank. cuBLAS GEMMs on device buffers of each precision, a large
/// device-to-device copy (HBM), the CUDA backend's element-wise kernels and launch cost, NCCL collectives; timed
/// with CUDA events through the timing and fitting exec/calibration.cpp uses for the CPU. Built with
/// HPSIM_BUILD_CUDA.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "exec/calibration_internal.hpp"
#include "exec/cuda_backend.hpp"
#include "exec/cuda_check.hpp"
#include "exec/cuda_kernels.hpp"
#include "exec/nccl_comm.hpp"

namespace hpsim::exec::detail {

namespace {

using i64 = std::int64_t;

void check_nccl(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw std::runtime_error(std::string("NCCL: ") + what + ": " + ncclGetErrorString(r));
}

/// CUDA events on the backend's compute stream (CudaEventTimer): the GPU's time between them.
class EventClock final : public WindowClock {
 public:
  explicit EventClock(ComputeBackend& backend) : timer_(backend) {}
  void start() override { timer_.start(); }
  double stop() override { return timer_.stop(); }

 private:
  CudaEventTimer timer_;
};

/// Device memory, freed on scope exit.
class DeviceBytes {
 public:
  explicit DeviceBytes(std::size_t bytes) {
    check_cuda(cudaMalloc(&p_, std::max<std::size_t>(bytes, 1)), "cudaMalloc");
  }
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;
  ~DeviceBytes() { cudaFree(p_); }
  [[nodiscard]] char* get() const { return static_cast<char*>(p_); }

 private:
  void* p_ = nullptr;
};

class BlasHandle {
 public:
  explicit BlasHandle(cudaStream_t stream) {
    check_cublas(cublasCreate(&h_), "cublasCreate");
    check_cublas(cublasSetStream(h_, stream), "cublasSetStream");
    check_cublas(cublasSetPointerMode(h_, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
  }
  BlasHandle(const BlasHandle&) = delete;
  BlasHandle& operator=(const BlasHandle&) = delete;
  ~BlasHandle() { cublasDestroy(h_); }
  [[nodiscard]] cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

double min_over(MPI_Comm world, double v) {
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MIN, world), "MPI_Allreduce");
  return v;
}

/// Rank 0's `s` on every rank.
std::string bcast_string(MPI_Comm world, std::string s) {
  int n = static_cast<int>(s.size());
  check_mpi(MPI_Bcast(&n, 1, MPI_INT, 0, world), "MPI_Bcast");
  s.resize(static_cast<std::size_t>(n));
  check_mpi(MPI_Bcast(s.data(), n, MPI_CHAR, 0, world), "MPI_Bcast");
  return s;
}

/// CUDA's 13000 -> "13.0".
std::string cuda_version(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }
/// NCCL's 22805 -> "2.28.5" (NCCL_VERSION_CODE since 2.9: major * 10000 + minor * 100 + patch).
std::string nccl_version(int v) {
  if (v < 10000) return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 100) + "." + std::to_string(v % 100);
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100);
}

/// One precision's GEMM as the calibration measures it.
struct GemmKind {
  topologies::Precision precision;
  cudaDataType_t operand;          ///< A and B; C is fp32 for every kind (the executor's output)
  cublasComputeType_t compute;
  std::size_t operand_bytes;
  cuda::Half16 half;               ///< the cast for 16-bit operands
};

// fp32 = TF32 tensor cores: what topologies' presets mean by fp32 (Megatron's default allows TF32).
const GemmKind kGemmKinds[] = {
    {topologies::Precision::fp32, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32, 4, cuda::Half16::bf16},
    {topologies::Precision::bf16, CUDA_R_16BF, CUBLAS_COMPUTE_32F, 2, cuda::Half16::bf16},
    {topologies::Precision::fp16, CUDA_R_16F, CUBLAS_COMPUTE_32F, 2, cuda::Half16::fp16},
};

std::size_t align256(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

/// Where a shape's operands lie in one region: A [m,k] and B [k,n] of the operand type, then C [m,n] fp32.
struct Operands {
  std::size_t b_offset = 0, c_offset = 0, bytes = 0;
};
Operands layout(i64 m, i64 n, i64 k, std::size_t operand_bytes) {
  Operands o;
  o.b_offset = align256(static_cast<std::size_t>(m * k) * operand_bytes);
  o.c_offset = o.b_offset + align256(static_cast<std::size_t>(k * n) * operand_bytes);
  o.bytes = o.c_offset + align256(static_cast<std::size_t>(m * n) * 4);
  return o;
}

/// Fills `elems` values of the kind's operand type at `dst` with values in [-1, 1] (GEMM power, hence clocks, depends
/// on the data: zeros would run faster than a training run's operands): 4 Mi values uploaded (and cast), then
/// doubled by device-to-device copies.
void fill_operands(char* dst, std::size_t elems, const GemmKind& kind, cudaStream_t stream) {
  const std::size_t stage = std::min<std::size_t>(elems, std::size_t{1} << 22);
  std::vector<float> host(stage);
  for (std::size_t i = 0; i < stage; ++i) host[i] = static_cast<float>((i * 7919) % 2001) * 1e-3F - 1.0F;
  std::unique_ptr<DeviceBytes> fp32;
  if (kind.operand_bytes == 4) {
    check_cuda(cudaMemcpyAsync(dst, host.data(), stage * 4, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync");
  } else {
    fp32 = std::make_unique<DeviceBytes>(stage * 4);
    check_cuda(cudaMemcpyAsync(fp32->get(), host.data(), stage * 4, cudaMemcpyHostToDevice, stream),
               "cudaMemcpyAsync");
    cuda::cast_2d(reinterpret_cast<const float*>(fp32->get()), static_cast<i64>(stage), 1, static_cast<i64>(stage), dst,
                  kind.half, stream);
    check_cuda(cudaGetLastError(), "cast_2d");
  }
  const std::size_t total = elems * kind.operand_bytes;
  for (std::size_t filled = stage * kind.operand_bytes; filled < total;) {
    const std::size_t n = std::min(filled, total - filled);
    check_cuda(cudaMemcpyAsync(dst + filled, dst, n, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync");
    filled += n;
  }
  check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");  // before `host` and the staging go
}

/// Row-major C[m,n] = A[m,k] B[k,n], as the executor's backend calls cuBLAS (column-major C^T = B^T A^T).
void gemm(cublasHandle_t h, const GemmKind& kind, cublasComputeType_t compute, i64 m, i64 n, i64 k, char* base,
          const Operands& o) {
  const float alpha = 1.0F, beta = 0.0F;
  const auto im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
  check_cublas(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, in, im, ik, &alpha, base + o.b_offset, kind.operand, in, base,
                            kind.operand, ik, &beta, base + o.c_offset, CUDA_R_32F, in, compute,
                            CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx");
}

/// Every precision's grid. Shapes whose operands exceed `budget_bytes` are skipped, and so are shapes beyond 16384^3
/// multiply-adds (given --dims larger than the default): they run at the best rate anyway.
void measure_gemms(ComputeBackend& be, WindowClock& clock, const CalibrationOptions& o, MPI_Comm world,
                   double budget_bytes, Calibration& c) {
  std::vector<i64> dims = o.dims;
  if (dims.empty()) dims = {256, 512, 1024, 2048, 4096, 8192, 16384};
  const double window_s = o.seconds_per_shape > 0 ? o.seconds_per_shape : 0.005;
  auto* stream = static_cast<cudaStream_t>(cuda_stream_of(be));
  const BlasHandle blas(stream);
  for (const GemmKind& kind : kGemmKinds) {
    struct Shape {
      i64 m, n, k;
    };
    std::vector<Shape> shapes;
    std::size_t region = 0;
    for (const i64 m : dims)
      for (const i64 n : dims)
        for (const i64 k : dims) {
          const std::size_t bytes = layout(m, n, k, kind.operand_bytes).bytes;
          if (static_cast<double>(bytes) > budget_bytes ||
              static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) > 16384.0 * 16384.0 * 16384.0)
            continue;
          shapes.push_back({m, n, k});
          region = std::max(region, bytes);
        }
    // Every rank has the same shapes (the budget is the smallest over ranks): the timing is collective.
    if (shapes.empty())
      throw std::runtime_error("calibrate: no GEMM shape of the grid fits in the GPU memory free on every rank (" +
                               std::to_string(budget_bytes / (1024.0 * 1024 * 1024)) + " GiB usable)");
    const DeviceBytes buf(region);
    fill_operands(buf.get(), region / kind.operand_bytes, kind, stream);
    // Warm up: the GPU's clocks ramp up from idle; 0.2 s of the largest shape first, not recorded.
    const Shape& big = *std::max_element(shapes.begin(), shapes.end(), [](const Shape& a, const Shape& b) {
      return static_cast<double>(a.m) * a.n * a.k < static_cast<double>(b.m) * b.n * b.k;
    });
    const Operands big_ops = layout(big.m, big.n, big.k, kind.operand_bytes);
    (void)time_per_call(world, clock, 0.2,
                        [&] { gemm(blas.get(), kind, kind.compute, big.m, big.n, big.k, buf.get(), big_ops); });
    for (const auto& s : shapes) {
      const Operands ops = layout(s.m, s.n, s.k, kind.operand_bytes);
      const double sec = time_per_call(world, clock, window_s,
                                       [&] { gemm(blas.get(), kind, kind.compute, s.m, s.n, s.k, buf.get(), ops); });
      c.gemm.push_back({s.m, s.n, s.k, kind.precision, 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) *
                                                           static_cast<double>(s.k) / sec});
    }
    if (kind.precision == topologies::Precision::fp32) {
      // Strict FP32 (no TF32), what the executor's fp32 plans run: one square shape, for the header only.
      i64 d = 0;
      for (const auto& s : shapes)
        if (s.m == s.n && s.n == s.k && s.m <= 8192) d = std::max(d, s.m);
      if (d > 0) {
        const Operands ops = layout(d, d, d, 4);
        const double sec = time_per_call(
            world, clock, window_s, [&] { gemm(blas.get(), kind, CUBLAS_COMPUTE_32F, d, d, d, buf.get(), ops); });
        c.strict_fp32_dim = d;
        c.strict_fp32_flop_per_s = 2.0 * static_cast<double>(d) * static_cast<double>(d) * static_cast<double>(d) / sec;
      }
    }
  }
}

/// NCCL all-reduce, all-gather and send/recv (ranks 0 and 1) through the executor's NcclComm (`comm`, with
/// point-to-point), 64 KiB to 256 MiB.
void measure_nccl_links(ComputeBackend& be, CommBackend& comm, WindowClock& clock, MPI_Comm world, Calibration& c) {
  std::vector<double> sizes;
  for (double b = 64.0 * 1024; b <= 256.0 * 1024 * 1024; b *= 4) sizes.push_back(b);
  const auto most = static_cast<std::size_t>(sizes.back() / 4);
  Buffer x(be, most), out(be, most);
  const CollectiveCall call = [&](Collective which, std::size_t floats) {
    switch (which) {
      case Collective::all_reduce: comm.all_reduce_sum(x.data(), floats); break;
      case Collective::all_gather:
        comm.all_gather(x.data(), out.data(), floats / static_cast<std::size_t>(c.ranks));
        break;
      case Collective::send_recv:  // ping-pong between ranks 0 and 1
        if (comm.rank() == 0) {
          comm.send(x.data(), floats, 1, 0);
          comm.recv(out.data(), floats, 1, 0);
        } else if (comm.rank() == 1) {
          comm.recv(out.data(), floats, 0, 0);
          comm.send(x.data(), floats, 0, 0);
        }
        comm.wait_sends();  // the compute stream (the clock's) waits for the sends too
        break;
    }
  };
  c.all_reduce = measure_link(world, clock, 0.02, Collective::all_reduce, sizes, call);
  c.all_gather = measure_link(world, clock, 0.02, Collective::all_gather, sizes, call);
  c.send_recv = measure_link(world, clock, 0.02, Collective::send_recv, sizes, call);
  comm.barrier();
}

}  // namespace

void check_cuda_calibration(const CalibrationOptions& options, MPI_Comm world) {
  for (const i64 d : options.dims)
    if (d > INT_MAX)
      throw core::InputError("calibrate", "--dims",
                             "GEMM dimensions are at most " + std::to_string(INT_MAX) + " for cuBLAS, got " +
                                 std::to_string(d));
  try {
    (void)select_cuda_device(world);  // collective: every rank throws when any rank has no device of its own
  } catch (const std::runtime_error& e) {
    throw core::InputError("calibrate", "--backend", e.what());
  }
  // The file describes one node (nodes: 1, gpus_per_node = ranks, the intra-node link from NCCL's fit): refuse ranks
  // spread over several hosts, whose fits would describe the network.
  int world_rank = 0, world_size = 1, node_size = 1;
  check_mpi(MPI_Comm_rank(world, &world_rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(world, &world_size), "MPI_Comm_size");
  MPI_Comm node = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  check_mpi(MPI_Comm_size(node, &node_size), "MPI_Comm_size");
  check_mpi(MPI_Comm_free(&node), "MPI_Comm_free");
  int one_node = node_size == world_size ? 1 : 0;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, &one_node, 1, MPI_INT, MPI_MIN, world), "MPI_Allreduce");
  if (one_node == 0)
    throw core::InputError("calibrate", "mpirun -np",
                           "the " + std::to_string(world_size) +
                               " ranks span more than one host; calibrate one node (one rank per GPU of one host)");
}

void calibrate_cuda(const CalibrationOptions& options, MPI_Comm world, Calibration& c) {
  const int device = select_cuda_device(world);
  auto be = make_cuda_backend(device, CudaPrecision::fp32);  // its GEMM precision is unused: cuBLAS is called here
  EventClock clock(*be);

  // Identity: rank 0's GPU and versions; memory and SMs the smallest over ranks (a plan must fit on each).
  cudaDeviceProp prop{};
  check_cuda(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  const std::string name = prop.name;
  c.device = bcast_string(world, name);
  const double same = min_over(world, name == c.device ? 1.0 : 0.0);
  if (same == 0.0) c.device += " (rank 0's; the ranks' GPUs differ)";
  c.device_memory_bytes = min_over(world, static_cast<double>(prop.totalGlobalMem));
  c.sm_count = static_cast<int>(min_over(world, prop.multiProcessorCount));
  int driver = 0, runtime = 0, nccl = 0;
  check_cuda(cudaDriverGetVersion(&driver), "cudaDriverGetVersion");
  check_cuda(cudaRuntimeGetVersion(&runtime), "cudaRuntimeGetVersion");
  check_nccl(ncclGetVersion(&nccl), "ncclGetVersion");
  c.cuda_driver = bcast_string(world, cuda_version(driver));
  c.cuda_runtime = bcast_string(world, cuda_version(runtime));
  c.nccl = bcast_string(world, nccl_version(nccl));

  // What the measurements may allocate at once: most of the memory free on the fullest GPU.
  std::size_t free_bytes = 0, total_bytes = 0;
  check_cuda(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  const double budget_bytes = 0.8 * min_over(world, static_cast<double>(free_bytes));

  measure_gemms(*be, clock, options, world, budget_bytes, c);
  {
    // HBM: one large device-to-device copy (the backend's copy, cudaMemcpyAsync), bytes read + written / time.
    const std::size_t floats = static_cast<std::size_t>(std::min(1024.0 * 1024 * 1024, budget_bytes / 4) / 4);
    Buffer src(*be, floats), dst(*be, floats);
    c.copy_bytes = 4.0 * static_cast<double>(floats);
    c.stream_bytes_per_s = 2 * c.copy_bytes / time_per_call(world, clock, 0.1, [&] {
                             be->copy(dst.data(), src.data(), floats);
                           });
  }
  {
    // The element-wise kernels at training-like sizes (a micro-batch of 8192 tokens, hidden 2048, ffn 8192, 32 heads
    // of sequence 1024), about 2 GiB; halved until that fits in half the budget.
    VectorShapes v{.rows = 8192, .hidden = 2048, .ffn = 8192, .heads = 32, .seq = 1024};
    auto bytes = [](const VectorShapes& s) {
      return 4.0 * static_cast<double>(3 * s.rows * s.hidden + 5 * s.rows * s.ffn + 4 * s.heads * s.seq * s.seq);
    };
    while (bytes(v) > 0.5 * budget_bytes && v.rows > 64) {
      v.rows /= 2;
      v.heads = std::max<i64>(1, v.heads / 2);
    }
    measure_vector(*be, clock, world, v, c);
  }
  {
    Buffer one(*be, 1);
    c.call_overhead_s = time_per_call(world, clock, 0.005, [&] { be->axpy(one.data(), 1.0F, one.data(), 1); }, 1000);
  }
  std::unique_ptr<CommBackend> comm;  // kept until the memory in use is measured
  if (c.ranks >= 2) {
    c.measured_links = true;
    comm = make_nccl_comm(world, *be, true);
    measure_nccl_links(*be, *comm, clock, world, c);
  }
  // What training cannot have: the memory in use with every calibration buffer freed (context, cuBLAS, NCCL).
  be->synchronize();
  check_cuda(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  c.reserved_bytes = max_over(world, static_cast<double>(total_bytes - free_bytes));
}

}  // namespace hpsim::exec::detail
