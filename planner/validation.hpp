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
  double measured_peak_memory_gib = 0;  ///< 0: the source reports none
  double memory_error = 0;              ///< (predicted peak - measured) / measured, when measured
  StepResult result;
};

/// Kendall's tau-b between predicted and measured times within one group, and how the run hpsim predicts fastest
/// really did.
struct GroupRanking {
  std::string group;
  std::size_t cases = 0;
  double kendall_tau = 0;
  std::string predicted_fastest;       ///< id of the run hpsim predicts fastest
  std::size_t its_measured_rank = 0;   ///< 1 = it was also the fastest measured
  double its_measured_gap = 0;         ///< its measured time over the fastest measured time, minus 1
};

/// A case hpsim cannot express (its model, cluster or plan is refused, or its step cannot be simulated).
struct RefusedCase {
  std::string id;
  std::string reason;
};

struct ValidationReport {
  std::vector<CaseOutcome> cases;    ///< the answered cases, in file order
  std::vector<RefusedCase> refused;  ///< the others, in file order; excluded from every figure below
  double mape = 0;                   ///< over the answered cases
  double max_abs_error = 0;
  std::vector<GroupRanking> rankings;   ///< groups with at least 3 cases
  double mean_kendall_tau = 0;          ///< over those groups, weighted by their number of pairs
  /// Peak memory against the answered cases whose source reports it: how many, the mean |error|, the worst and
  /// the mean signed error (below 0: hpsim expects less memory than the runs took).
  std::size_t memory_cases = 0;
  double memory_mape = 0, memory_max_abs_error = 0, memory_mean_error = 0;
};

ValidationReport validate_cases(const std::vector<ValidationCase>& cases);

/// What the planner makes of a case: for the same model, GPUs, global batch, sequence, precision and overlap
/// settings, the best plan of the whole space, and the case's own (published) plan ranked among the plans that use
/// the same features (its recomputation, SP, ZeRO stage, cp and ep; tp, pp, vpp and micro-batch searched), since a
/// published plan could only choose among the features its software had.
struct PlanQuality {
  std::string id;
  double case_plan_s = 0;           ///< the case's plan, simulated
  double best_s = 0;                ///< the planner's best over the whole space
  Plan best_plan;
  double same_features_best_s = 0;  ///< the best with the case's features
  Plan same_features_best_plan;
  std::int64_t case_plan_rank = 0;  ///< 1 + plans with the same features strictly faster than the case's plan
  std::int64_t same_features_feasible = 0;
  std::int64_t feasible = 0;        ///< feasible plans in the whole space
  double search_time_s = 0;         ///< the whole-space search
  /// Why a search found nothing (e.g. the memory model fits no plan with the case's features: a memory-model
  /// error, since the published run ran); empty when both searches found plans.
  std::string note;
};

std::vector<PlanQuality> plan_quality(const std::vector<ValidationCase>& cases, const ValidationReport& report);

/// Kendall's tau-b of two equally long series (ties counted as neither concordant nor discordant).
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace hpsim::planner
