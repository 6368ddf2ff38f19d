#pragma once
/// The verdict: which regressions fail the report and which are only printed.
#include <string>
#include <vector>

#include "bench/regression/accuracy.hpp"
#include "bench/regression/speed.hpp"

namespace hpsim::bench {

/// When speed regressions fail the report.
struct SpeedGate {
  bool advisory = false;          ///< never (--speed-advisory)
  double max_load_per_cpu = 1.5;  ///< not when the run started with a higher 1-minute load per CPU
};

/// The regressions that fail the report and the speed regressions that are only printed, one line each.
struct Verdict {
  double load_per_cpu = 0;      ///< at the start of the benchmark run; 0 when unknown or no run
  bool oversubscribed = false;  ///< load_per_cpu above the gate's limit
  bool speed_gates = true;      ///< speed regressions fail the report (benchmarks timed in real time never do)
  std::vector<std::string> regressions, advisories;

  [[nodiscard]] bool regressed() const { return !regressions.empty(); }
  /// Whether this benchmark's regression fails the report.
  [[nodiscard]] bool fails(const SpeedRow& row) const {
    return row.status == SpeedStatus::regressed && speed_gates && !row.real_time;
  }
};

/// Speed gates unless asked not to, or the machine was oversubscribed when the run started (memory-bound benchmarks
/// slow down against the cache-resident calibration); `speed` null: no benchmark run. Accuracy always gates.
Verdict decide(const SpeedComparison* speed, const std::vector<AccuracyRow>& accuracy, const SpeedGate& gate);

}  // namespace hpsim::bench
