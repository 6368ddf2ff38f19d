#pragma once
/// `hpsim calibrate`: measure this machine (GEMM rates by shape with every rank busy, element-wise kernel rate, MPI
/// or NCCL collectives; --backend cpu or cuda) and write a cluster description that `simulate`/`plan` accept
/// (exec/calibration.hpp). hpsim parses the flags and hands over to hpsim-run (apps/executor_handover.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace hpsim::apps {

/// The flags of `hpsim calibrate`.
struct CalibrateArgs {
  std::string backend = "cpu";
  std::string out;  ///< default: the localhost cache (apps/localhost_cluster.hpp)
  double seconds_per_shape = 0;    ///< 0: the backend's default (exec::CalibrationOptions)
  std::vector<std::int64_t> dims;  ///< GEMM grid values (empty: the backend's default grid)
};

/// Registers `calibrate` and its flags on `app` (the caller adds --format).
CLI::App* add_calibrate_command(CLI::App& app, CalibrateArgs& a);

}  // namespace hpsim::apps
