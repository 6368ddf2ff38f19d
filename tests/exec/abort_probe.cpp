// Rank 1 fails while rank 0 waits in a barrier; every rank must end promptly and the failing rank be named.
//   exec_abort_probe            rank 1 throws: run_or_abort prints "hpsim run: rank 1: injected failure", MPI_Abort
//   exec_abort_probe signal     rank 1 dies of SIGKILL (no handler can run): mpirun ends the job, naming rank 1
//   exec_abort_probe input      rank 1 throws core::InputError (bad input only it sees): MPI_Abort with status 2
#include <mpi.h>

#include <csignal>
#include <stdexcept>
#include <string>

#include "core/error.hpp"
#include "exec/run.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const std::string mode = argc > 1 ? argv[1] : "";
  const int status = hpsim::exec::run_or_abort(MPI_COMM_WORLD, [&mode] {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 1) {
      if (mode == "signal") std::raise(SIGKILL);
      if (mode == "input") throw hpsim::core::InputError("probe.yaml", "field", "injected bad input");
      throw std::runtime_error("injected failure");
    }
    MPI_Barrier(MPI_COMM_WORLD);  // never completes: rank 1 ends the job
    return 0;
  });
  MPI_Finalize();
  return status;
}
