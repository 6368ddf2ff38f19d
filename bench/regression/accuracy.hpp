#pragma once
/// The accuracy comparison: `validate` on each data set against the baseline's MAPE, worst |error|, refused cases and
/// Kendall tau. Deterministic, so no noise band.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "planner/validation.hpp"

namespace hpsim::bench {

/// How much worse a data set may get before it regresses, in percentage points.
struct AccuracyThresholds {
  double mape_pts = 0.5;       ///< MAPE up by more than this
  double max_error_pts = 1;    ///< max |error| up by more than this
};

/// How one data set compares with the baseline.
enum class AccuracyStatus {
  ok,
  regressed,  ///< past a threshold, or more cases refused
  added,      ///< not in the baseline ("new")
};

/// The status as the report writes it (`added` is "new").
std::string to_string(AccuracyStatus status);

/// One data set's figures and their changes against the baseline.
struct AccuracyRow {
  std::string name;  ///< the file's name
  planner::ValidationReport report;
  std::optional<nlohmann::json> baseline;  ///< the baseline's entry for this data set
  double mape_delta_pts = 0, max_delta_pts = 0;
  std::optional<double> tau_delta;         ///< when both have a ranking
  std::optional<long long> refused_delta;  ///< refused cases now minus in the baseline
  AccuracyStatus status = AccuracyStatus::added;
};

/// Compares one validated data set with its baseline entry (`baseline_entry` null: new).
AccuracyRow compare_accuracy_set(std::string name, planner::ValidationReport report,
                                 const nlohmann::json& baseline_entry, const AccuracyThresholds& thresholds);

/// Validates every file (planner::validate_cases) and compares it with the baseline's "accuracy" section under the
/// file's name (`baseline` null or without one: every set is new).
std::vector<AccuracyRow> compare_accuracy(const std::vector<std::string>& files, const nlohmann::json& baseline,
                                          const AccuracyThresholds& thresholds);

/// The validation files to track: `files` when given; else the .yaml files of `data_dir` and of its published/ and
/// measured/ (a missing directory is an InputError naming `--data`); else those of the checkout's validation/ (the
/// project's own copies of the published runs; the report runs from the checkout's root, as CI does).
std::vector<std::string> validation_files(const std::vector<std::string>& files, const std::string& data_dir);

/// One validated data set as JSON: name, mape, max_abs_error, mean_kendall_tau (null without a ranking), the
/// answered cases (id, predicted and measured step time, error) and the refused ones (id, reason).
nlohmann::json accuracy_set_json(const std::string& name, const planner::ValidationReport& report);

}  // namespace hpsim::bench
