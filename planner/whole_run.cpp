#include "planner/whole_run.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "models/formulas.hpp"
#include "planner/parameters.hpp"
#include "planner/whole_run_monte_carlo.hpp"

namespace hpsim::planner {

double young_interval_s(double checkpoint_s, double mtbf_s) { return std::sqrt(2.0 * checkpoint_s * mtbf_s); }

double daly_interval_s(double checkpoint_s, double mtbf_s) {
  if (checkpoint_s >= 2.0 * mtbf_s) return mtbf_s;
  const double r = checkpoint_s / (2.0 * mtbf_s);
  return young_interval_s(checkpoint_s, mtbf_s) * (1.0 + std::sqrt(r) / 3.0 + r / 9.0) - checkpoint_s;
}

double expected_attempt_s(double length_s, double restart_s, double mtbf_s) {
  if (std::isinf(mtbf_s)) return length_s;
  // expm1 keeps the small-L/M case exact (L/M ~ 1e-4 for a step on a large job).
  return mtbf_s * std::exp(restart_s / mtbf_s) * std::expm1(length_s / mtbf_s);
}

double expected_wall_s(const CheckpointSchedule& s) {
  double wall = static_cast<double>(s.segments) *
                expected_attempt_s(s.segment_work_s + s.checkpoint_s, s.restart_s, s.mtbf_s);
  if (s.last_work_s > 0) wall += expected_attempt_s(s.last_work_s + s.checkpoint_s, s.restart_s, s.mtbf_s);
  return wall;
}

double first_order_goodput(double interval_s, double checkpoint_s, double restart_s, double mtbf_s) {
  const double kept = 1.0 - (restart_s + (interval_s + checkpoint_s) / 2.0) / mtbf_s;
  return std::max(0.0, kept / (1.0 + checkpoint_s / interval_s));
}

double checkpoint_bytes(const models::ModelSpec& model, const Plan& plan) {
  // The weights as held between steps (16-bit beside a master in the optimizer, or the fp32 master itself) and the
  // optimizer's states.
  const ParameterBytes b = parameter_bytes(plan);
  return static_cast<double>(models::total_parameters(model)) * (b.resident_weight + b.optimizer);
}

WholeRun whole_run(const StepResult& step, const models::ModelSpec& model, const topologies::ClusterSpec& cluster,
                   double train_tokens, const std::optional<StragglerStats>& stragglers) {
  if (!(train_tokens > 0) || train_tokens > kMaxTrainTokens)
    throw core::InputError("command line", "--train-tokens", "expected a number in (0, 1e18]");
  const topologies::RunConditions& run = cluster.run;
  WholeRun w;
  w.train_tokens = train_tokens;
  w.gpus = step.gpus;
  const double tokens_per_step = static_cast<double>(step.plan.global_batch_size * step.plan.seq_length);
  w.steps = static_cast<std::int64_t>(std::ceil(train_tokens / tokens_per_step));

  const StragglerStats slow = stragglers ? *stragglers : straggler_estimate(step, cluster);
  w.step_time_s = slow.mean_step_s;
  w.straggler_loss = slow.loss;
  w.stragglers_simulated = slow.simulated;
  if (has_stragglers(run)) w.stragglers = slow;
  w.ideal_s = static_cast<double>(w.steps) * w.step_time_s;

  w.checkpoint_bytes = checkpoint_bytes(model, step.plan);
  w.checkpoint_write_s = w.checkpoint_bytes / run.checkpoint_write_bandwidth.value();
  w.restart_s = run.restart_overhead.value() + w.checkpoint_bytes / run.checkpoint_read_bandwidth.value();
  const double failures_per_s = run.interruptions_per_gpu_day * static_cast<double>(step.gpus) / 86400.0;
  w.mtbf_s = failures_per_s > 0 ? 1.0 / failures_per_s : kNoInterruptions;

  // Checkpoints are taken between steps: Daly's interval rounded to whole steps; without interruptions only the
  // final checkpoint is written.
  std::int64_t every = w.steps;
  if (!std::isinf(w.mtbf_s)) {
    w.young_interval_s = young_interval_s(w.checkpoint_write_s, w.mtbf_s);
    const double steps = std::round(daly_interval_s(w.checkpoint_write_s, w.mtbf_s) / w.step_time_s);
    every = static_cast<std::int64_t>(std::clamp(steps, 1.0, static_cast<double>(w.steps)));
  }
  w.checkpoint_interval_steps = every;
  w.checkpoint_interval_s = static_cast<double>(every) * w.step_time_s;
  CheckpointSchedule schedule;
  schedule.segments = w.steps / every;
  schedule.segment_work_s = w.checkpoint_interval_s;
  schedule.last_work_s = static_cast<double>(w.steps % every) * w.step_time_s;
  schedule.checkpoint_s = w.checkpoint_write_s;
  schedule.restart_s = w.restart_s;
  schedule.mtbf_s = w.mtbf_s;

  w.expected_s = expected_wall_s(schedule);
  // Interruptions arrive at a constant rate over the whole wall time (restarts included).
  w.expected_interruptions = std::isinf(w.mtbf_s) ? 0.0 : w.expected_s / w.mtbf_s;
  w.goodput = w.expected_s > 0 ? w.ideal_s / w.expected_s : 0.0;
  const double gpus = static_cast<double>(step.gpus);
  w.gpu_hours = gpus * w.expected_s / 3600.0;
  if (run.gpu_hour_price_usd > 0) w.cost_usd = w.gpu_hours * run.gpu_hour_price_usd;
  if (cluster.gpu.tdp_w > 0) w.energy_mwh = gpus * cluster.gpu.tdp_w * w.expected_s / 3.6e9;
  if (std::isfinite(w.expected_s) && w.expected_interruptions <= kMaxSampledInterruptions) {
    const RunTimeSample sample = sample_run_time(schedule, kWholeRunTrials, kWholeRunSeed);
    w.p50_s = sample.p50_s;
    w.p90_s = sample.p90_s;
  }
  return w;
}

}  // namespace hpsim::planner
