#pragma once
/// The executor's side of `hpsim run` and `hpsim calibrate`: compiled only into hpsim-run, the binary that links MPI,
/// OpenBLAS and (when built) CUDA and NCCL. hpsim parses the same flags and hands its process over
/// (apps/executor_handover.hpp).
#include <string>

#include "apps/calibrate_command.hpp"
#include "apps/output.hpp"
#include "apps/run_command.hpp"

namespace hpsim::apps {

/// Rank and size of MPI_COMM_WORLD, once MPI is initialized (MPI_THREAD_MULTIPLE where the library has it: the step
/// watchdogs exchange their ranks' progress on a timeout).
struct MpiWorld {
  int rank = 0;
  int ranks = 1;
};
MpiWorld start_mpi();

/// Initializes MPI, runs, finalizes. Only rank 0 prints. Exit status: 0; 2 bad input (every rank agrees: printed
/// once; bad input only one rank sees: MPI_Abort with 2); 1 a failure (MPI_Abort ends every rank).
int run_command(const RunArgs& a, Format format);

/// Collective over the ranks it is launched on; rank 0 writes the file and prints a summary. Exit 2 when the backend
/// cannot be calibrated here (a build without CUDA, no CUDA device), said once.
int calibrate_command(const CalibrateArgs& a, Format format);

/// Calibrates on every rank of MPI_COMM_WORLD; rank 0 writes `path` (creating its directory). Returns the YAML.
std::string calibrate_and_write(const CalibrateArgs& a, const std::string& path, bool quiet);

}  // namespace hpsim::apps
