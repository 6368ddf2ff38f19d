#pragma once
/// `hpsim run`'s pre-flight in hpsim itself, before the hand-over to hpsim-run: a plan the executor would certainly
/// refuse is refused by every rank in milliseconds, before MPI, BLAS or CUDA are loaded. hpsim-run keeps its own
/// pre-flight (speed and memory against this machine's calibration); this one makes only the checks that need
/// neither MPI nor a calibration.
#include <string>

#include "apps/run_command.hpp"

namespace hpsim::apps {

/// This process as its launcher (mpirun, mpiexec, srun) describes it in the environment; 1 rank without one.
struct LauncherWorld {
  int rank = 0;         ///< OMPI_COMM_WORLD_RANK, PMI_RANK or SLURM_PROCID
  int ranks = 1;        ///< OMPI_COMM_WORLD_SIZE, PMI_SIZE or SLURM_STEP_NUM_TASKS
  int local_ranks = 1;  ///< on this node: OMPI_COMM_WORLD_LOCAL_SIZE or MPI_LOCALNRANKS, else `ranks`
};

/// Reads the launcher's environment.
LauncherWorld launcher_world();

/// Throws core::InputError when hpsim-run would certainly refuse `a` on `world`: the run file, the plan rules and the
/// executor's limits as exec::executed_run checks them, and for a cpu run on `localhost` the memory model against
/// this machine's memory per rank on this node.
void check_run_before_handover(const RunArgs& a, const LauncherWorld& world);

}  // namespace hpsim::apps
