#pragma once
/// Slow nodes in a synchronous training step: the step waits for its slowest participant, so one straggler anywhere
/// in the job paces everyone's compute (docs/whole_run.md says what this does and does not model).
#include <cstdint>

namespace hpsim::planner {

/// A step's time with and without stragglers.
struct StragglerEffect {
  double chance = 0;         ///< that the job holds at least one slow node
  double paced_step_s = 0;   ///< the step when it does: compute at the slow speed, communication and bubble as before
  double expected_step_s = 0;  ///< averaged over that chance
  double loss = 0;           ///< the share of time lost to stragglers: 1 - step / expected step
};

/// `step_s` of which `compute_s` is compute on the slowest rank; each of `nodes` nodes is slow with chance
/// `slow_node_fraction`, its compute then taking `slowdown` times as long.
StragglerEffect straggler_effect(double step_s, double compute_s, std::int64_t nodes, double slow_node_fraction,
                                 double slowdown);

}  // namespace hpsim::planner
