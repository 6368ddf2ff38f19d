#pragma once
/// `hpsim run`: execute a plan file for real under mpirun (exec/) and set the measured step time beside hpsim's
/// prediction of the same plan on the plan file's cluster (`localhost`: this machine's calibration). hpsim parses the
/// flags and hands over to hpsim-run (apps/executor_handover.hpp), which parses them again and runs
/// (apps/executor/commands.hpp).
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "apps/plan_flags.hpp"

namespace hpsim::apps {

/// The flags of `hpsim run`.
struct RunArgs {
  std::string plan_file;
  std::string backend = "cpu";
  std::int64_t steps = 3;
  std::int64_t warmup = 1;
  double step_timeout_s = 600;
  std::int64_t checkpoint_every = 0;  ///< steps between checkpoints (0: none)
  std::string checkpoint_dir;
  std::string resume_dir;             ///< --resume: a checkpoint directory to continue from
  bool no_preflight = false;  ///< run even what the simulator says will not fit or not finish in time
  PlanFieldFlags plan_flags;  ///< plan fields given as flags: they override the plan file's
};

/// Registers `run` and its flags on `app` (the caller adds --format).
CLI::App* add_run_command(CLI::App& app, RunArgs& a);

}  // namespace hpsim::apps
