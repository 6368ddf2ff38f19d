// doctest under MPI: every rank runs the same test cases (they are collective); the exit status is the worst, or 77
// (tests/skip.hpp) when no rank failed and every rank skipped every test case it ran.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <mpi.h>

#include "../skip.hpp"

DOCTEST_REGISTER_LISTENER("hpsim_skip", 1, hpsim_test::SkipListener);

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  doctest::Context context(argc, argv);
  if (rank != 0) context.setOption("minimal", true);  // failures still print on every rank
  int status = context.run();
  int all_skipped = hpsim_test::all_skipped() ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &status, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &all_skipped, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Finalize();
  return status == 0 && all_skipped == 1 ? hpsim_test::kSkipExit : status;
}
