#pragma once
/// A whole training run from one predicted step: steps for a token budget, time, GPU-hours, cost and energy;
/// interruptions and the checkpoints that bound their cost (Young 1974, Daly 2006); slow nodes (stragglers.hpp).
/// docs/whole_run.md gives each model and its sources.
#include <cstdint>
#include <limits>
#include <optional>

#include "models/model_spec.hpp"
#include "planner/step_simulation.hpp"
#include "planner/straggler_simulation.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::planner {

inline constexpr double kNoInterruptions = std::numeric_limits<double>::infinity();  ///< an MTBF: never

/// A run as segments of training, each ending in a checkpoint, on a job interrupted at random (Poisson) with mean
/// time between interruptions mtbf_s; an interruption loses the segment's progress and costs a restart.
struct CheckpointSchedule {
  std::int64_t segments = 0;   ///< full segments of segment_work_s
  double segment_work_s = 0;   ///< training between two checkpoints (the checkpoint interval)
  double last_work_s = 0;      ///< the remainder, ending in the final checkpoint; 0: none
  double checkpoint_s = 0;     ///< writing one checkpoint (training waits)
  double restart_s = 0;        ///< restart overhead plus reading the checkpoint back
  double mtbf_s = kNoInterruptions;
};

/// Young 1974 (CACM 17(9)): the first-order optimum interval between checkpoints, sqrt(2 C M).
double young_interval_s(double checkpoint_s, double mtbf_s);
/// Daly 2006 ("A higher order estimate of the optimum checkpoint interval for restart dumps", Future Generation
/// Computer Systems 22): sqrt(2 C M) (1 + sqrt(C / 2M) / 3 + (C / 2M) / 9) - C while C < 2M, else M.
double daly_interval_s(double checkpoint_s, double mtbf_s);
/// Expected wall time to get `length_s` of uninterrupted progress done when each interruption loses it and costs a
/// restart of `restart_s` (itself interruptible): M e^{R/M} (e^{L/M} - 1) (Daly 2006's complete model); L when
/// there are no interruptions.
double expected_attempt_s(double length_s, double restart_s, double mtbf_s);
/// Expected wall time of the whole schedule: every segment and the last, each with its checkpoint.
double expected_wall_s(const CheckpointSchedule& schedule);
/// The first-order expected-waste model (Young 1974; Daly 2006's first-order model): useful / wall time with
/// checkpoints of C every tau of work, a restart R and on average half a period (tau + C) / 2 lost per interruption:
/// (1 - (R + (tau + C) / 2) / M) / (1 + C / tau), at least 0. expected_wall_s refines it for tau, C, R not << M.
double first_order_goodput(double interval_s, double checkpoint_s, double restart_s, double mtbf_s);

/// Bytes of a checkpoint: the model's whole training state, weights and optimizer (master copy and Adam's two
/// moments, in the plan's optimizer dtype), whatever the sharding that decides which rank writes which part.
double checkpoint_bytes(const models::ModelSpec& model, const Plan& plan);

/// Everything `--train-tokens` reports for one plan.
struct WholeRun {
  double train_tokens = 0;
  std::int64_t steps = 0;
  std::int64_t gpus = 0;
  double step_time_s = 0;           ///< expected, stragglers included
  double straggler_loss = 0;        ///< share of time lost to stragglers
  bool stragglers_simulated = false;  ///< the loss from simulated placements (else the closed form, or none)
  std::optional<StragglerStats> stragglers;  ///< the step's spread; absent when the cluster states no straggler
  double ideal_s = 0;               ///< steps x step time: no interruption, no checkpoint
  double checkpoint_bytes = 0;
  double checkpoint_write_s = 0;
  double restart_s = 0;
  double mtbf_s = kNoInterruptions;
  std::int64_t checkpoint_interval_steps = 0;
  double checkpoint_interval_s = 0;  ///< Daly's interval rounded to whole steps (the run's length when no failures)
  double young_interval_s = 0;
  double expected_s = 0;             ///< expected wall time
  double expected_interruptions = 0;
  double goodput = 0;                ///< ideal / expected wall time
  double gpu_hours = 0;
  std::optional<double> cost_usd;    ///< absent when the cluster states no price
  std::optional<double> energy_mwh;  ///< absent when the GPU states no power
  std::optional<double> p50_s, p90_s;  ///< Monte-Carlo percentiles; absent when too many interruptions to sample
  [[nodiscard]] double days() const { return expected_s / 86400.0; }
};

/// The Monte-Carlo's trials and seed: fixed, so that the same inputs print the same percentiles.
inline constexpr int kWholeRunTrials = 1000;
inline constexpr std::uint64_t kWholeRunSeed = 20061;
/// Beyond this many expected interruptions the Monte-Carlo is skipped: its work grows with them, and the spread it
/// would show is then about 1/sqrt(1e4) = 1 % of the mean (a Poisson count's relative spread).
inline constexpr double kMaxSampledInterruptions = 1e4;
/// The largest token budget accepted (a million times today's largest runs).
inline constexpr double kMaxTrainTokens = 1e18;

/// The whole run of `step`'s plan on `cluster` for `train_tokens` (> 0, at most kMaxTrainTokens); its step time is
/// `stragglers`' mean step when given (simulate_stragglers), else the closed form's (straggler_estimate).
WholeRun whole_run(const StepResult& step, const models::ModelSpec& model, const topologies::ClusterSpec& cluster,
                   double train_tokens, const std::optional<StragglerStats>& stragglers = std::nullopt);

}  // namespace hpsim::planner
