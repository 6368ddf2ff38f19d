// hpsim calibrate --backend cuda: a short calibration (small GEMM grid) renders a cluster file that loads with
// positive, plausible rates; with 2+ GPUs the NCCL fits too. Without a CUDA device each test is skipped (ctest:
// Skipped), except the one that checks the refusal itself, which is skipped with a device.
#include <doctest/doctest.h>
#include <mpi.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "exec/calibration.hpp"
#include "cuda_test_util.hpp"

namespace hpsim::exec {
namespace {

using topologies::Precision;

CalibrationOptions quick() {
  CalibrationOptions o;
  o.backend = "cuda";
  o.dims = {256, 512};
  o.seconds_per_shape = 0.002;
  return o;
}

/// Rank 0 writes the YAML and loads it as a cluster (the file simulate/plan would read).
topologies::ClusterSpec load(const std::string& yaml) {
  const auto path =
      std::filesystem::temp_directory_path() / ("hpsim_cuda_calibration_" + std::to_string(::getpid()) + ".yaml");
  {
    std::ofstream out(path);
    out << yaml;
  }
  auto cluster = topologies::load_cluster(path.string());
  std::filesystem::remove(path);
  return cluster;
}

void check_plausible(const Calibration& c, const topologies::ClusterSpec& cluster) {
  CHECK(c.gemm.size() == 3 * 8);  // fp32 (TF32), bf16, fp16 over 2^3 shapes
  for (const auto p : {Precision::fp32, Precision::bf16, Precision::fp16}) {
    INFO(topologies::to_string(p));
    const double peak = cluster.gpu.peak_for(p).value();
    CHECK(peak > 1e12);   // any tensor-core GPU beats 1 TFLOP/s at 512^3
    CHECK(peak < 1e16);   // and no GPU reaches 10 PFLOP/s: units are right
  }
  CHECK(cluster.gpu.gemm_table.size() == c.gemm.size());
  CHECK(cluster.gpu.hbm_bandwidth.value() > 1e11);  // > 100 GB/s
  CHECK(cluster.gpu.hbm_bandwidth.value() < 2e13);  // < 20 TB/s
  CHECK(cluster.gpu.vector_peak.value() > 1e9);
  CHECK(cluster.gpu.hbm_capacity.value() > 1e9);
  CHECK(cluster.gpu.sm_count > 1);
  CHECK(cluster.gpu.efficiency.kernel_overhead.value() > 1e-7);
  CHECK(cluster.gpu.efficiency.kernel_overhead.value() < 1e-4);
  CHECK(cluster.memory_reserve.value() > 0);
  CHECK(c.strict_fp32_dim == 512);
  CHECK(c.strict_fp32_flop_per_s > 0);
  CHECK(!c.device.empty());
  CHECK(!c.cuda_driver.empty());
  CHECK(!c.nccl.empty());
}

TEST_CASE("1rank: cuda: calibrate writes a cluster file that loads with plausible rates") {
  if (!testing::have_devices()) return;
  const Calibration c = calibrate(quick(), MPI_COMM_WORLD);
  const std::string yaml = calibration_to_yaml(c);
  INFO(yaml);
  const auto cluster = load(yaml);
  CHECK(cluster.gpus_per_node == 1);
  CHECK(!c.measured_links);
  check_plausible(c, cluster);
  MESSAGE("calibration took " << c.seconds << " s");
}

TEST_CASE("1rank: cuda: without a device calibrate --backend cuda is refused naming it") {
  if (!testing::have_no_device()) return;
  CHECK_THROWS_WITH_AS(calibrate(quick(), MPI_COMM_WORLD), doctest::Contains("calibrate: --backend: no CUDA device: "),
                       core::InputError);
}

TEST_CASE("2ranks: cuda: calibrate fits NCCL all-reduce, all-gather and send/recv") {
  if (!testing::every_rank_has_devices(MPI_COMM_WORLD, 2)) return;
  const Calibration c = calibrate(quick(), MPI_COMM_WORLD);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  CHECK(c.measured_links);
  for (const LinkFit& f : {c.all_reduce, c.all_gather, c.send_recv}) {
    CHECK(f.latency_s > 0);
    CHECK(f.latency_s < 1e-3);
    CHECK(f.bandwidth_bytes_per_s > 1e9);   // PCIe or better
    CHECK(f.bandwidth_bytes_per_s < 1e13);
  }
  if (rank != 0) return;
  const std::string yaml = calibration_to_yaml(c);
  INFO(yaml);
  const auto cluster = load(yaml);
  CHECK(cluster.gpus_per_node == 2);
  CHECK(cluster.intra_node_bandwidth.value() == doctest::Approx(c.all_reduce.bandwidth_bytes_per_s).epsilon(1e-4));
  check_plausible(c, cluster);
}

}  // namespace
}  // namespace hpsim::exec
