#pragma once
/// A seeded Monte-Carlo of a checkpointed run under Poisson interruptions: the spread the closed form's mean hides.
#include <cstdint>

#include "planner/whole_run.hpp"

namespace hpsim::planner {

/// Wall times of `trials` sampled runs of a schedule.
struct RunTimeSample {
  int trials = 0;
  double mean_s = 0, stddev_s = 0;
  double p50_s = 0, p90_s = 0;  ///< nearest-rank percentiles
};

/// Deterministic for a given seed (mt19937_64, whose sequence the standard fixes, and hpsim's own inverse CDFs).
/// Work per trial grows with the interruptions, not with the segments: the segments run between two interruptions
/// are drawn at once (geometric).
RunTimeSample sample_run_time(const CheckpointSchedule& schedule, int trials, std::uint64_t seed);

}  // namespace hpsim::planner
