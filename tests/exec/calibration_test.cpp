// calibration_to_yaml without a device: calibrations made by hand (cuda and cpu) render to cluster files that the
// topologies loader reads back as written, and that sim's GEMM table lookup uses.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "exec/calibration.hpp"
#include "costs/compute_cost.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::exec {
namespace {

using topologies::Precision;
constexpr double kGiB = 1024.0 * 1024 * 1024;

/// Writes `yaml` to a temporary file and loads it as a cluster.
topologies::ClusterSpec load(const std::string& yaml, const std::string& name) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("hpsim_calibration_" + std::to_string(::getpid()) + "_" + name + ".yaml");
  {
    std::ofstream out(path);
    out << yaml;
  }
  auto cluster = topologies::load_cluster(path.string());
  std::filesystem::remove(path);
  return cluster;
}

Calibration hand_made_cuda(int ranks) {
  Calibration c;
  c.backend = "cuda";
  c.ranks = ranks;
  c.hostname = "gpubox";
  c.cpu_model = "Test CPU";
  c.date = "2026-01-02T03:04:05Z";
  c.device = "NVIDIA H100 80GB HBM3";
  c.device_memory_bytes = 79.5 * kGiB;
  c.sm_count = 132;
  c.cuda_driver = "13.0";
  c.cuda_runtime = "13.0";
  c.nccl = "2.28.5";
  c.gemm = {{4096, 4096, 4096, Precision::fp32, 400e12}, {256, 256, 256, Precision::fp32, 20e12},
            {4096, 4096, 4096, Precision::bf16, 700e12}, {256, 256, 256, Precision::bf16, 35e12},
            {8192, 1024, 4096, Precision::bf16, 650e12}, {4096, 4096, 4096, Precision::fp16, 720e12}};
  c.stream_bytes_per_s = 3.0e12;
  c.copy_bytes = kGiB;
  c.vector_flop_per_s = 1.5e12;
  using core::VectorKernel;
  c.vector_kernels = {{VectorKernel::layernorm, {1e-3, 1e12}}, {VectorKernel::gelu, {1e-3, 2e12}},
                      {VectorKernel::softmax, {1e-3, 1.2e12}}};
  c.call_overhead_s = 2.5e-6;
  c.reserved_bytes = 2.5 * kGiB;
  c.strict_fp32_flop_per_s = 51e12;
  c.strict_fp32_dim = 8192;
  if (ranks >= 2) {
    c.measured_links = true;
    c.all_reduce = {5e-6, 150e9};
    c.all_gather = {4e-6, 160e9};
    c.send_recv = {8e-6, 140e9};
  }
  c.seconds = 21.5;
  return c;
}

TEST_CASE("1rank: calibration_to_yaml: a cuda calibration made by hand loads back as written") {
  const std::string yaml = calibration_to_yaml(hand_made_cuda(4));
  INFO(yaml);
  // The header: identity, what fp32 means, every fit.
  for (const char* s : {"# gpu: NVIDIA H100 80GB HBM3, 79.50 GiB, 132 SMs",
                        "# CUDA driver 13.0, runtime 13.0; NCCL 2.28.5", "# ranks: 4", "fp32 means TF32", "strict FP32 (CUBLAS_COMPUTE_32F", "51.0 TFLOP/s at 8192^3",
                        "# NCCL all-reduce (ring model): 5.00 us per step + bytes / 150.000 GB/s",
                        "# NCCL all-gather (ring model)", "# NCCL send/recv", "--backend cuda on gpubox", "calibration:",
                        "  backend: cuda", "  ranks: 4", "  device: NVIDIA H100 80GB HBM3", "  date: 2026-01-02T03:04:05Z",
                        "  send_recv: {latency_us: 8, bandwidth_gbyte_per_s: 140}"})
    CHECK_MESSAGE(yaml.find(s) != std::string::npos, s);

  const auto cluster = load(yaml, "cuda");
  CHECK(cluster.nodes == 1);
  CHECK(cluster.gpus_per_node == 4);
  CHECK(cluster.intra_node_bandwidth.value() == doctest::Approx(150e9));
  CHECK(cluster.intra_node_latency.value() == doctest::Approx(5e-6));
  CHECK(cluster.intra_node_efficiency == doctest::Approx(1));
  CHECK(cluster.memory_reserve.value() == doctest::Approx(2.5 * kGiB));
  const auto& gpu = cluster.gpu;
  CHECK(gpu.name == "NVIDIA H100 80GB HBM3");
  // Peaks: the best measured rate per precision; no fp8 (not measured).
  CHECK(gpu.peak_for(Precision::fp32).value() == doctest::Approx(400e12));
  CHECK(gpu.peak_for(Precision::bf16).value() == doctest::Approx(700e12));
  CHECK(gpu.peak_for(Precision::fp16).value() == doctest::Approx(720e12));
  CHECK(gpu.peak.count(Precision::fp8) == 0);
  CHECK(gpu.hbm_bandwidth.value() == doctest::Approx(3.0e12));
  CHECK(gpu.vector_peak.value() == doctest::Approx(1.5e12));
  CHECK(gpu.hbm_capacity.value() == doctest::Approx(79.5 * kGiB));
  CHECK(gpu.sm_count == 132);
  CHECK(gpu.efficiency.kernel_overhead.value() == doctest::Approx(2.5e-6));
  CHECK(gpu.efficiency.gemm_peak_fraction == doctest::Approx(1));
  REQUIRE(gpu.gemm_table.size() == 6);
  const auto row = std::find_if(gpu.gemm_table.begin(), gpu.gemm_table.end(), [](const auto& g) { return g.m == 8192; });
  REQUIRE(row != gpu.gemm_table.end());
  CHECK(row->n == 1024);
  CHECK(row->k == 4096);
  CHECK(row->precision == Precision::bf16);
  CHECK(row->achieved.value() == doctest::Approx(650e12));
  // The measurements are data: the block reads back as the calibration written, fits included.
  REQUIRE(cluster.calibration.has_value());
  CHECK(*cluster.calibration == calibration_data(hand_made_cuda(4)));
  CHECK(cluster.calibration->backend == "cuda");
  CHECK(cluster.calibration->ranks == 4);
  CHECK(cluster.calibration->device == "NVIDIA H100 80GB HBM3");
  CHECK(cluster.calibration->collectives.at("all_gather").at("ring") == topologies::LinkFit{4, 160});
  CHECK(cluster.calibration->send_recv == topologies::LinkFit{8, 140});
  // sim's lookup: the nearest measured shape of the plan's precision, as a fraction of that precision's peak.
  const costs::ComputeCost bf16(gpu, Precision::bf16), fp32(gpu, Precision::fp32), fp16(gpu, Precision::fp16);
  CHECK(bf16.gemm_efficiency(8192, 1024, 4096, 1) == doctest::Approx(650.0 / 700));
  CHECK(bf16.gemm_efficiency(300, 250, 260, 1) == doctest::Approx(35.0 / 700));
  CHECK(bf16.gemm_efficiency(4000, 4100, 4096, 1) == doctest::Approx(1));
  CHECK(fp32.gemm_efficiency(200, 300, 256, 1) == doctest::Approx(20.0 / 400));
  CHECK(fp16.gemm_efficiency(256, 256, 256, 1) == doctest::Approx(1));  // fp16's one shape is its peak
}

TEST_CASE("1rank: calibration_to_yaml: one GPU has a labelled nominal link (the device's copy rate)") {
  const std::string yaml = calibration_to_yaml(hand_made_cuda(1));
  INFO(yaml);
  CHECK(yaml.find("# one rank: no NCCL measurement; the intra-node link is nominal") != std::string::npos);
  CHECK(yaml.find("collectives:") == std::string::npos);  // nothing measured, nothing written
  const auto cluster = load(yaml, "cuda1");
  CHECK(cluster.gpus_per_node == 1);
  CHECK(cluster.intra_node_bandwidth.value() == doctest::Approx(3.0e12));
  CHECK(cluster.intra_node_latency.value() == doctest::Approx(1e-6));
}

TEST_CASE("1rank: calibration_to_yaml: a cpu calibration keeps its format (fp32 only, RAM / ranks)") {
  Calibration c;
  c.backend = "cpu";
  c.ranks = 2;
  c.hostname = "box";
  c.cpu_model = "Test CPU";
  c.date = "2026-01-02T03:04:05Z";
  c.gemm = {{128, 128, 128, Precision::fp32, 40e9}, {1024, 1024, 1024, Precision::fp32, 90e9}};
  c.stream_bytes_per_s = 50e9;
  c.vector_flop_per_s = 2e9;
  c.call_overhead_s = 1e-8;
  c.vector_kernels = {{core::VectorKernel::gelu, {1e-3, 1.5e9}}, {core::VectorKernel::swiglu, {1e-3, 6e9}}};
  c.ram_bytes = 16 * kGiB;
  c.measured_links = true;
  c.all_reduce = {3e-6, 6e9};
  const std::string yaml = calibration_to_yaml(c);
  INFO(yaml);
  CHECK(yaml.find("# MPI all-reduce (ring model)") != std::string::npos);
  CHECK(yaml.find("    fp32:\n      - {m: 128, n: 128, k: 128, tflop_per_s: 0.04}\n") != std::string::npos);
  CHECK(yaml.find("name: localhost-2ranks\n") != std::string::npos);
  const auto cluster = load(yaml, "cpu");
  CHECK(cluster.gpu.name == "cpu-box");
  CHECK(cluster.gpu.peak.size() == 1);
  CHECK(cluster.gpu.peak_for(Precision::fp32).value() == doctest::Approx(90e9));
  CHECK(cluster.gpu.hbm_capacity.value() == doctest::Approx(8 * kGiB));
  CHECK(cluster.gpu.hbm_bandwidth.value() == doctest::Approx(50e9));
  CHECK(cluster.memory_reserve.value() == doctest::Approx(0));
  CHECK(cluster.gpus_per_node == 2);
  // The element-wise kernels' measured rates, one by one: the simulator costs each operator at its kernel's rate.
  CHECK(yaml.find("  vector_table: {gelu: 0.0015, swiglu: 0.006}") != std::string::npos);
  REQUIRE(cluster.gpu.vector_table.size() == 2);
  CHECK(cluster.gpu.vector_table.at(core::VectorKernel::swiglu).value() == doctest::Approx(6e9));
  const costs::ComputeCost cost(cluster.gpu, Precision::fp32);
  const core::Flops flops(6e9);
  const core::Bytes bytes(1.0);  // compute-bound: the rate decides
  CHECK(cost.elementwise_time(bytes, flops, core::VectorKernel::swiglu).value() == doctest::Approx(1.0).epsilon(1e-3));
  CHECK(cost.elementwise_time(bytes, flops, core::VectorKernel::gelu).value() == doctest::Approx(4.0).epsilon(1e-3));
  CHECK(cost.elementwise_time(bytes, flops).value() == doctest::Approx(3.0).epsilon(1e-3));  // generic: the mix
}

}  // namespace
}  // namespace hpsim::exec
