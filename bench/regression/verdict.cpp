#include "bench/regression/verdict.hpp"

#include <fmt/format.h>

#include "bench/regression/text.hpp"

namespace hpsim::bench {

Verdict decide(const SpeedComparison* speed, const std::vector<AccuracyRow>& accuracy, const SpeedGate& gate) {
  Verdict v;
  v.load_per_cpu = speed ? load_per_cpu(speed->context) : 0;
  v.oversubscribed = v.load_per_cpu > gate.max_load_per_cpu;
  v.speed_gates = !gate.advisory && !v.oversubscribed;
  // Benchmarks timed in real time (multi-threaded searches) never gate: their time measures the free cores as much
  // as the code.
  if (speed)
    for (const auto& r : speed->rows)
      if (r.status == SpeedStatus::regressed)
        (v.fails(r) ? v.regressions : v.advisories)
            .push_back(fmt::format("`{}` {} slower (band {} … {})", r.name, signed_pct(*r.change),
                                   signed_pct(*r.band_low), signed_pct(*r.band_high)));
  for (const auto& r : accuracy)
    if (r.status == AccuracyStatus::regressed)
      v.regressions.push_back(fmt::format("{}: MAPE {} points, max |error| {} points, refused cases {:+d}", r.name,
                                          signed_num(r.mape_delta_pts, 2), signed_num(r.max_delta_pts, 2),
                                          r.refused_delta.value_or(0)));
  return v;
}

}  // namespace hpsim::bench
