#pragma once
// Shared by the CUDA suites: skip a test (it passes, saying why) when this machine has too few CUDA devices.
#include <doctest/doctest.h>
#include <mpi.h>

#include <string>

#include "exec/cuda_backend.hpp"

namespace hpsim::exec::testing {

/// True when this process sees at least `n` CUDA devices; otherwise says the test is skipped.
inline bool have_devices(int n = 1) {
  std::string error;
  const int count = cuda_device_count(&error);
  if (count >= n) return true;
  if (count == 0)
    MESSAGE("skipped: no CUDA device (" << error << ")");
  else
    MESSAGE("skipped: needs " << n << " CUDA devices, found " << count);
  return false;
}

/// have_devices(n) agreed over `world` (collective): every rank takes the same branch of a collective test.
inline bool every_rank_has_devices(MPI_Comm world, int n) {
  int ok = cuda_device_count() >= n ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, world);
  if (ok == 0) {
    (void)have_devices(n);  // says why
    return false;
  }
  return true;
}

}  // namespace hpsim::exec::testing
