#include "bench/regression/accuracy.hpp"

#include <algorithm>
#include <filesystem>

#include "core/error.hpp"
#include "planner/plan_file.hpp"

namespace hpsim::bench {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// The .yaml files directly in `dir` and in its published/ and measured/ (the layout of an external data directory).
std::vector<std::string> yaml_files_under(const fs::path& dir) {
  std::vector<std::string> files;
  for (const fs::path& d : {dir, dir / "published", dir / "measured"}) {
    if (!fs::is_directory(d)) continue;
    std::vector<std::string> these;
    for (const auto& e : fs::directory_iterator(d))
      if (e.is_regular_file() && e.path().extension() == ".yaml") these.push_back(e.path().string());
    std::sort(these.begin(), these.end());
    files.insert(files.end(), these.begin(), these.end());
  }
  return files;
}

}  // namespace

std::string to_string(AccuracyStatus status) {
  switch (status) {
    case AccuracyStatus::ok: return "ok";
    case AccuracyStatus::regressed: return "regressed";
    case AccuracyStatus::added: return "new";
  }
  return "?";
}

AccuracyRow compare_accuracy_set(std::string name, planner::ValidationReport report, const json& baseline_entry,
                                 const AccuracyThresholds& thresholds) {
  AccuracyRow r;
  r.name = std::move(name);
  r.report = std::move(report);
  if (baseline_entry.is_null()) return r;
  const json& b = baseline_entry;
  r.baseline = b;
  r.mape_delta_pts = (r.report.mape - b.at("mape").get<double>()) * 100;
  r.max_delta_pts = (r.report.max_abs_error - b.at("max_abs_error").get<double>()) * 100;
  if (!r.report.rankings.empty() && b.contains("mean_kendall_tau") && b["mean_kendall_tau"].is_number())
    r.tau_delta = r.report.mean_kendall_tau - b["mean_kendall_tau"].get<double>();
  // A baseline from before refusals were counted had every case answered.
  r.refused_delta = static_cast<long long>(r.report.refused.size()) - b.value("refused", 0LL);
  const bool bad = r.mape_delta_pts > thresholds.mape_pts || r.max_delta_pts > thresholds.max_error_pts ||
                   *r.refused_delta > 0;
  r.status = bad ? AccuracyStatus::regressed : AccuracyStatus::ok;
  return r;
}

std::vector<AccuracyRow> compare_accuracy(const std::vector<std::string>& files, const json& baseline,
                                          const AccuracyThresholds& thresholds) {
  const json base_acc = baseline.is_object() ? baseline.value("accuracy", json::object()) : json::object();
  std::vector<AccuracyRow> rows;
  for (const auto& file : files) {
    const std::string name = fs::path(file).filename().string();
    rows.push_back(compare_accuracy_set(name, planner::validate_cases(planner::load_validation_file(file)),
                                        base_acc.contains(name) ? base_acc[name] : json(nullptr), thresholds));
  }
  return rows;
}

std::vector<std::string> validation_files(const std::vector<std::string>& files, const std::string& data_dir) {
  if (!files.empty()) return files;
  if (!data_dir.empty()) {
    if (!fs::is_directory(data_dir))
      throw core::InputError(data_dir, "--data", "a directory of validation files (.yaml, or published/ and measured/)");
    return yaml_files_under(data_dir);
  }
  return yaml_files_under("validation");
}

json accuracy_set_json(const std::string& name, const planner::ValidationReport& report) {
  json cases = json::array();
  for (const auto& c : report.cases)
    cases.push_back({{"id", c.id},
                     {"predicted_step_time_s", c.predicted_step_time_s},
                     {"measured_step_time_s", c.measured_step_time_s},
                     {"error", c.error}});
  json refused = json::array();
  for (const auto& r : report.refused) refused.push_back({{"id", r.id}, {"reason", r.reason}});
  json j{{"name", name},          {"mape", report.mape},           {"max_abs_error", report.max_abs_error},
         {"cases", std::move(cases)}, {"refused", std::move(refused)}};
  j["mean_kendall_tau"] = report.rankings.empty() ? json(nullptr) : json(report.mean_kendall_tau);
  return j;
}

}  // namespace hpsim::bench
