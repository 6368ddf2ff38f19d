#pragma once
/// The speed comparison: each benchmark's median time as a ratio to a calibration benchmark of the same run, against
/// the same ratio in the baseline, with a noise band from this run's fastest and slowest repetition.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/regression/bench_runs.hpp"

namespace hpsim::bench {

/// How one benchmark compares with the baseline.
enum class SpeedStatus {
  ok,           ///< within the threshold
  noisy,        ///< the median is past the threshold but the repetitions do not all agree
  regressed,    ///< the median and the whole noise band past the threshold
  added,        ///< not in the baseline ("new")
  missing,      ///< in the baseline, not in this run
  calibration,  ///< the benchmark every time is divided by
};

/// The status as the report writes it (`added` is "new").
std::string to_string(SpeedStatus status);

/// One benchmark of the run (or of the baseline only, when missing).
struct SpeedRow {
  std::string name;
  bool real_time = false;  ///< timed in wall time (multi-threaded); never fails the report
  int repetitions = 0;
  double median_ns = 0, ratio = 0, min_ratio = 0, max_ratio = 0;  ///< ratios to the calibration's median
  std::optional<double> baseline_ratio, change, band_low, band_high;  ///< change and band: fractions, +0.5 = 50 % slower
  SpeedStatus status = SpeedStatus::added;

  /// "real_time" or "cpu_time": which time was compared; empty for a benchmark not run.
  [[nodiscard]] std::string time_measure() const {
    return status == SpeedStatus::missing ? "" : real_time ? "real_time" : "cpu_time";
  }
};

/// Every benchmark of a run against the baseline.
struct SpeedComparison {
  std::string calibration;
  double machine_factor = 0;  ///< the calibration's median time over the baseline's; 0 when unknown
  nlohmann::json context;     ///< the run's context (load average, CPUs)
  std::vector<SpeedRow> rows;  ///< the calibration first, then by name, then those missing from the run
  std::vector<std::string> notes;  ///< why figures were not compared, for the terminal
};

/// The verdict on a benchmark with a baseline (`change`, `band_low` and `threshold` as fractions): regressed when the
/// median and the fastest repetition are both past the threshold, noisy when only the median is.
SpeedStatus speed_status(double change, double band_low, double threshold);

/// Compares a run with the baseline's "speed" section (`baseline` null or without one: every benchmark is new). The
/// calibration must be in the run (an InputError naming `--calibration`); a baseline relative to another
/// calibration is not compared (a note says so).
SpeedComparison compare_speed(const BenchRuns& runs, const nlohmann::json& baseline, const std::string& calibration,
                              double threshold);

}  // namespace hpsim::bench
