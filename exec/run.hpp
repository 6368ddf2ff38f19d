#pragma once
/// The executor's public API: check a plan against the MPI world, run real training steps under it, time them.
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "exec/checkpoint.hpp"
#include "exec/compute_backend.hpp"
#include "exec/executed_run.hpp"
#include "exec/run_file.hpp"
#include "models/model_spec.hpp"
#include "planner/plan.hpp"

namespace hpsim::exec {

/// What `hpsim run` takes beside the plan.
/// The run's optimizer steps are numbered 1..warmup + steps from its start (a resumed run continues that numbering).
struct RunOptions {
  std::int64_t steps = 3;       ///< measured steps
  std::int64_t warmup = 1;      ///< steps run before, not measured
  std::string backend = "cpu";  ///< cpu, or cuda (a build with HPSIM_BUILD_CUDA; see exec/README.md)
  std::uint64_t seed = 1234;    ///< weights and synthetic data
  AdamConfig adam{};
  /// Every this many steps (0: never) a checkpoint of every rank's state in checkpoint_dir (exec/checkpoint.hpp).
  std::int64_t checkpoint_every = 0;
  std::string checkpoint_dir;
  /// A complete checkpoint of this run to continue from (its step < warmup + steps), or none: the run then runs
  /// only the steps after it, and ends as the run that was not interrupted would have, bit for bit.
  std::optional<ResumePoint> resume;
  /// Called on every rank before each step (0-based, warm-up steps first) and once more with warmup + steps after
  /// the last one: a watchdog's heartbeat (hpsim run --step-timeout-s). May be empty.
  std::function<void(std::int64_t)> on_step{};
};

/// What a run measured (no prediction: the caller puts hpsim's prediction beside it).
struct RunResult {
  ExecutedRun executed;               ///< the model and plan as run (resolved), and how they differ from the file's
  std::string backend;
  int ranks = 0;
  std::vector<double> step_times_s;   ///< per measured step, max over ranks of MPI_Wtime around the step
  std::vector<double> loss;           ///< mean token loss per measured step
  std::vector<double> warmup_loss;    ///< the same for the warm-up steps
  double measured_step_time_s = 0;    ///< median of step_times_s
  bool loss_scaling = false;          ///< fp16 on cuda: dynamic loss scaling (exec/trainer.hpp's LossScaling)
  double loss_scale = 1.0;            ///< the scale after the last step
  std::int64_t skipped_steps = 0;     ///< steps skipped for non-finite gradients (warm-up included)
  std::int64_t first_step = 1;        ///< the run's step number of the first step run here (> 1 when resumed)
  std::string resumed_from;           ///< the checkpoint's step directory, or empty
  std::vector<std::int64_t> checkpoints;  ///< the steps checkpointed by this run
  /// fnv1a64 over every rank's final flat parameters (rank order; each rank's fnv1a64 of its parameters' bytes):
  /// equal digests mean bit-identical weights on every rank.
  std::uint64_t weights_digest = 0;
};

/// Runs warmup + steps optimizer steps (those after `options.resume`'s step when set) of `model` under `plan` on every rank of `world` (collective). The result
/// is the same on every rank. Throws core::InputError (bad plan, checked before any work) or std::runtime_error.
RunResult run_plan(const models::ModelSpec& model, const planner::Plan& plan, const RunOptions& options,
                   MPI_Comm world);

/// For `main`: runs `body` and returns its status; if it throws on any rank, prints "hpsim run: rank R: <what>"
/// to stderr and calls MPI_Abort, which ends every rank promptly (the others may be blocked in MPI): with 2 for a
/// core::InputError (bad input only that rank could see), else 1.
int run_or_abort(MPI_Comm world, const std::function<int()>& body);

}  // namespace hpsim::exec
