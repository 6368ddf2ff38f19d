#include "apps/calibrate_command.hpp"

#include "apps/localhost_cluster.hpp"

namespace hpsim::apps {

CLI::App* add_calibrate_command(CLI::App& app, CalibrateArgs& a) {
  auto* cmd = app.add_subcommand(
      "calibrate", "measure this machine (GEMM rates, element-wise kernels, MPI or NCCL) and write a cluster "
                   "description; collective: launch it under mpirun -np N with the ranks (cuda: the GPUs) to model");
  cmd->add_option("--backend", a.backend,
                  "compute backend to measure: cpu, or cuda (one GPU per rank: cuBLAS, the CUDA kernels, NCCL)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--out", a.out, "cluster file to write (default: the localhost cache, " + localhost_cache_file() + ")");
  cmd->add_option("--seconds-per-shape", a.seconds_per_shape,
                  "timed window per GEMM shape (default: cpu 0.03, cuda 0.005)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--dims", a.dims,
                  "GEMM grid values for m, n and k (default: cpu 32,128,256,512,1024,2048; "
                  "cuda 256,512,1024,2048,4096,8192,16384)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  return cmd;
}

}  // namespace hpsim::apps
