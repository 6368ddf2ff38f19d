// Rank 1 fails while rank 0 waits in a barrier; every rank must end promptly and the failing rank be named.
//   exec_abort_probe            rank 1 throws: run_or_abort prints "hpsim run: rank 1: injected failure", MPI_Abort
//   exec_abort_probe signal     rank 1 dies of SIGKILL (no handler can run): mpirun ends the job, naming rank 1
#include <mpi.h>

#include <csignal>
#include <stdexcept>
#include <string>

#include "exec/run.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const bool by_signal = argc > 1 && std::string(argv[1]) == "signal";
  const int status = hpsim::exec::run_or_abort(MPI_COMM_WORLD, [by_signal] {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 1) {
      if (by_signal) std::raise(SIGKILL);
      throw std::runtime_error("injected failure");
    }
    MPI_Barrier(MPI_COMM_WORLD);  // never completes: rank 1 ends the job
    return 0;
  });
  MPI_Finalize();
  return status;
}
