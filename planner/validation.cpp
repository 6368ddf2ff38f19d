#include "planner/validation.hpp"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "models/formulas.hpp"

namespace hpsim::planner {

double kendall_tau(const std::vector<double>& a, const std::vector<double>& b) {
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = i + 1; j < a.size(); ++j) {
      const double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0 && db == 0) continue;
      if (da == 0) ties_a += 1;
      else if (db == 0) ties_b += 1;
      else if ((da > 0) == (db > 0)) concordant += 1;
      else discordant += 1;
    }
  const double denom = std::sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b));
  return denom > 0 ? (concordant - discordant) / denom : 0.0;
}

ValidationReport validate_cases(const std::vector<ValidationCase>& cases) {
  ValidationReport report;
  double abs_sum = 0;
  for (const auto& c : cases) {
    const topologies::CollectiveCoster coster(c.cluster);
    CaseOutcome o;
    o.id = c.id;
    o.group = fmt::format("{:.1f}B params / {} GPUs", static_cast<double>(models::total_parameters(c.model)) / 1e9,
                          c.plan.gpus());
    o.result = simulate_step(c.model, c.cluster, coster, c.plan).result;
    o.predicted_step_time_s = o.result.step_time.value();
    o.measured_step_time_s = c.measured_step_time_s;
    o.error = (o.predicted_step_time_s - o.measured_step_time_s) / o.measured_step_time_s;
    abs_sum += std::abs(o.error);
    report.max_abs_error = std::max(report.max_abs_error, std::abs(o.error));
    report.cases.push_back(std::move(o));
  }
  report.mape = cases.empty() ? 0.0 : abs_sum / static_cast<double>(cases.size());

  std::map<std::string, std::vector<const CaseOutcome*>> groups;
  for (const auto& o : report.cases) groups[o.group].push_back(&o);
  double weighted = 0, pairs = 0;
  for (const auto& [name, members] : groups) {
    if (members.size() < 3) continue;
    std::vector<double> predicted, measured;
    for (const auto* o : members) {
      predicted.push_back(o->predicted_step_time_s);
      measured.push_back(o->measured_step_time_s);
    }
    const double tau = kendall_tau(predicted, measured);
    const double n = static_cast<double>(members.size());
    report.rankings.push_back({name, members.size(), tau});
    weighted += tau * n * (n - 1) / 2;
    pairs += n * (n - 1) / 2;
  }
  report.mean_kendall_tau = pairs > 0 ? weighted / pairs : 0.0;
  return report;
}

}  // namespace hpsim::planner
