#pragma once
// Shared by the CUDA suites: skip a test (tests/skip.hpp: ctest reports Skipped) when this machine has too few CUDA
// devices, or, for the tests of the refusal without one, when it has one.
#include <doctest/doctest.h>
#include <mpi.h>

#include <string>

#include "../skip.hpp"
#include "exec/cuda_backend.hpp"

namespace hpsim::exec::testing {

/// True when this process sees at least `n` CUDA devices; otherwise says the test is skipped.
inline bool have_devices(int n = 1) {
  std::string error;
  const int count = cuda_device_count(&error);
  if (count >= n) return true;
  if (count == 0)
    hpsim_test::skip("no CUDA device (" + error + ")");
  else
    hpsim_test::skip("needs " + std::to_string(n) + " CUDA devices, found " + std::to_string(count));
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

/// True when this process sees no CUDA device; otherwise says the test (of the refusal without one) is skipped.
inline bool have_no_device() {
  const int count = cuda_device_count();
  if (count == 0) return true;
  hpsim_test::skip("this machine has " + std::to_string(count) + " CUDA device(s); the test checks the refusal without one");
  return false;
}

}  // namespace hpsim::exec::testing
