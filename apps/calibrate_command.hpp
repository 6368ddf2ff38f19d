#pragma once
/// `hpsim calibrate`: measure this machine (GEMM rates by shape with every rank busy, element-wise kernel rate, MPI
/// or NCCL collectives; --backend cpu or cuda) and write a cluster description that `simulate`/`plan` accept
/// (exec/calibration.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "apps/output.hpp"

namespace hpsim::apps {

struct CalibrateArgs {
  std::string backend = "cpu";
  std::string out;  ///< default: the localhost cache (apps/localhost_cluster.hpp)
  double seconds_per_shape = 0;    ///< 0: the backend's default (exec::CalibrationOptions)
  std::vector<std::int64_t> dims;  ///< GEMM grid values (empty: the backend's default grid)
};

CLI::App* add_calibrate_command(CLI::App& app, CalibrateArgs& a);
/// Collective over the ranks it is launched on; rank 0 writes the file and prints a summary. Exit 2 when the backend
/// cannot be calibrated here (a build without CUDA, no CUDA device), said once.
int calibrate_command(const CalibrateArgs& a, Format format);

#ifdef HPSIM_HAVE_EXEC
/// Calibrates on every rank of MPI_COMM_WORLD; rank 0 writes `path` (creating its directory). Returns the YAML.
std::string calibrate_and_write(const CalibrateArgs& a, const std::string& path, bool quiet);
#endif

}  // namespace hpsim::apps
