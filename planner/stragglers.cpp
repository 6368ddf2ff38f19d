#include "planner/stragglers.hpp"

#include <cmath>

namespace hpsim::planner {

StragglerEffect straggler_effect(double step_s, double compute_s, std::int64_t nodes, double slow_node_fraction,
                                 double slowdown) {
  StragglerEffect e;
  // Each node slow independently: the job avoids stragglers only when every one of its nodes is healthy.
  e.chance = 1.0 - std::pow(1.0 - slow_node_fraction, static_cast<double>(nodes));
  // A slow rank delays its TP group (blocking collectives), its pipeline neighbours and every DP collective, so the
  // synchronous step runs the slowest rank's compute at the slow speed. In a 1F1B pipeline with one slow stage the
  // steady state is paced by that stage while the fill and drain (the bubble) are the healthy stages' passes, and
  // the exposed communication moves the same bytes: only the compute part scales.
  e.paced_step_s = step_s + compute_s * (slowdown - 1.0);
  e.expected_step_s = step_s + e.chance * (e.paced_step_s - step_s);
  e.loss = e.expected_step_s > 0 ? 1.0 - step_s / e.expected_step_s : 0.0;
  return e;
}

}  // namespace hpsim::planner
