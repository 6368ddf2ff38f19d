#include "planner/whole_run_monte_carlo.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace hpsim::planner {

namespace {

/// Poisson interruptions at rate 1/M over attempts of fixed lengths, drawn by inverse CDFs (std's distributions
/// differ between standard libraries; these do not).
class Interruptions {
 public:
  Interruptions(double mtbf_s, std::uint64_t seed) : rate_(1.0 / mtbf_s), rng_(seed) {}

  /// Wall time to complete `count` attempts of `length_s`, each interrupted one losing its progress and costing a
  /// restart of `restart_s`.
  double run(std::int64_t count, double length_s, double restart_s) {
    const double fail = -std::expm1(-rate_ * length_s);  // an attempt is interrupted
    double wall = 0;
    while (count > 0) {
      const std::int64_t ok = successes_before_failure(fail, count);
      wall += static_cast<double>(ok) * length_s;
      count -= ok;
      if (count == 0) break;
      wall += lost(length_s, fail) + restart(restart_s);
    }
    return wall;
  }

 private:
  /// In (0, 1]: 53 random bits.
  double open_unit() { return (static_cast<double>(rng_() >> 11) + 1.0) * 0x1p-53; }

  /// Attempts that succeed before the first interrupted one (geometric), at most `cap` (then the rest succeed).
  std::int64_t successes_before_failure(double fail, std::int64_t cap) {
    if (fail <= 0) return cap;
    if (fail >= 1) return 0;
    const double g = std::floor(std::log(open_unit()) / std::log1p(-fail));
    return g >= static_cast<double>(cap) ? cap : static_cast<std::int64_t>(g);
  }

  /// Time into an attempt of `length_s` at which it is interrupted, given that it is (a truncated exponential).
  double lost(double length_s, double fail) {
    const double u = 1.0 - open_unit();  // [0, 1)
    return std::min(length_s, -std::log1p(-u * fail) / rate_);
  }

  /// A restart, interrupted and begun again as often as it takes.
  double restart(double restart_s) { return restart_s > 0 ? run(1, restart_s, 0.0) : 0.0; }

  double rate_;
  std::mt19937_64 rng_;
};

/// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

}  // namespace

RunTimeSample sample_run_time(const CheckpointSchedule& s, int trials, std::uint64_t seed) {
  RunTimeSample out;
  out.trials = trials;
  if (trials <= 0) return out;
  std::vector<double> walls;
  walls.reserve(static_cast<std::size_t>(trials));
  Interruptions interruptions(s.mtbf_s, seed);
  for (int t = 0; t < trials; ++t) {
    double wall = interruptions.run(s.segments, s.segment_work_s + s.checkpoint_s, s.restart_s);
    if (s.last_work_s > 0) wall += interruptions.run(1, s.last_work_s + s.checkpoint_s, s.restart_s);
    walls.push_back(wall);
  }
  double sum = 0, squares = 0;
  for (const double w : walls) sum += w;
  out.mean_s = sum / trials;
  for (const double w : walls) squares += (w - out.mean_s) * (w - out.mean_s);
  out.stddev_s = trials > 1 ? std::sqrt(squares / (trials - 1)) : 0.0;
  std::sort(walls.begin(), walls.end());
  out.p50_s = percentile(walls, 0.5);
  out.p90_s = percentile(walls, 0.9);
  return out;
}

}  // namespace hpsim::planner
