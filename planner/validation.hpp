#pragma once
/// Predicts every case of a validation file and compares with the measured step times: MAPE, worst error, and
/// Kendall's rank correlation among runs of the same model on the same GPU count.
#include <string>
#include <vector>

#include "planner/plan_file.hpp"
#include "planner/step_simulation.hpp"

namespace hpsim::planner {

struct CaseOutcome {
  std::string id;
  std::string group;  ///< "model shape / GPUs": runs that are ranked against each other
  double predicted_step_time_s = 0;
  double measured_step_time_s = 0;
  double error = 0;  ///< (predicted - measured) / measured
  StepResult result;
};

/// Kendall's tau-b between predicted and measured times within one group.
struct GroupRanking {
  std::string group;
  std::size_t cases = 0;
  double kendall_tau = 0;
};

struct ValidationReport {
  std::vector<CaseOutcome> cases;
  double mape = 0;
  double max_abs_error = 0;
  std::vector<GroupRanking> rankings;   ///< groups with at least 3 cases
  double mean_kendall_tau = 0;          ///< over those groups, weighted by their number of pairs
};

ValidationReport validate_cases(const std::vector<ValidationCase>& cases);

/// Kendall's tau-b of two equally long series (ties counted as neither concordant nor discordant).
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace hpsim::planner
