#pragma once
/// hpsim links no MPI, BLAS, CUDA or NCCL, so that planning starts in milliseconds on any host. `run` and
/// `calibrate` need them: hpsim hands its process over to the executor binary, hpsim-run, beside it (exec, same argv,
/// same pid, so mpirun's rank keeps its identity and MPI_Init happens in hpsim-run).
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "apps/calibrate_command.hpp"
#include "apps/run_command.hpp"

namespace hpsim::apps {

/// `run` and `calibrate` as registered on a command line: hpsim and hpsim-run parse them alike.
struct ExecutorCommands {
  RunArgs run_args;
  CalibrateArgs calibrate_args;
  CLI::App* run = nullptr;
  CLI::App* calibrate = nullptr;
};

/// Registers `run` and `calibrate` on `app` into `c`; `add_format` adds --format to each.
void add_executor_commands(CLI::App& app, ExecutorCommands& c, const std::function<void(CLI::App*)>& add_format);

/// What `run` and `calibrate` say when this build has no executor.
inline constexpr const char* kNoExecutor =
    "this build has no executor (MPI and OpenBLAS were not found when it was configured; apt-get install openmpi-bin "
    "libopenmpi-dev libopenblas-dev and reconfigure)";

/// hpsim-run in the folder of this process's executable (/proc/self/exe); empty when that cannot be read.
std::string executor_path();

/// Replaces this process by hpsim-run with the same argv. Returns only when it cannot, having said why in one line
/// on stderr: 2 when there is no executor (not built, or missing beside hpsim), 1 when exec itself fails.
/// `command` (run or calibrate) names the command in that line.
int hand_over_to_executor(const std::string& command, char** argv);

/// `hpsim --version`: hpsim's version and the executor's backends (known when hpsim was built), and where
/// hpsim-run is.
std::string version_text();

}  // namespace hpsim::apps
