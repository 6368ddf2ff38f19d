#pragma once
/// `hpsim run`: execute a plan file for real under mpirun (exec/) and set the measured step time beside hpsim's
/// prediction of the same plan on the plan file's cluster (`localhost`: this machine's calibration).
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "apps/output.hpp"

namespace hpsim::apps {

struct RunArgs {
  std::string plan_file;
  std::string backend = "cpu";
  std::int64_t steps = 3;
  std::int64_t warmup = 1;
  double step_timeout_s = 600;
};

/// Registers `run` and its flags on `app` (the caller adds --format).
CLI::App* add_run_command(CLI::App& app, RunArgs& a);
/// Initializes MPI (only this command and `calibrate` do), runs, finalizes. Only rank 0 prints. Exit status: 0; 2 bad
/// input (every rank agrees: printed once) or a build without the executor; 1 a failure (MPI_Abort ends every rank).
int run_command(const RunArgs& a, Format format);

/// True when this binary was built with the executor (MPI + a BLAS).
bool has_executor();
/// What `run` and `calibrate` say in a build without the executor.
inline constexpr const char* kNoExecutor =
    "this build has no executor (MPI and OpenBLAS were not found when it was configured; apt-get install openmpi-bin "
    "libopenmpi-dev libopenblas-dev and reconfigure)";

}  // namespace hpsim::apps
