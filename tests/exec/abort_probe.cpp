// Rank 1 throws while rank 0 waits in a barrier: run_or_abort must end both, naming rank 1.
#include <mpi.h>

#include <stdexcept>

#include "exec/run.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const int status = hpsim::exec::run_or_abort(MPI_COMM_WORLD, [] {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 1) throw std::runtime_error("injected failure");
    MPI_Barrier(MPI_COMM_WORLD);  // never completes: rank 1 aborts the job
    return 0;
  });
  MPI_Finalize();
  return status;
}
