#include "bench/regression/report.hpp"

#include <fmt/format.h>

#include "bench/regression/baseline.hpp"

namespace hpsim::bench {

using nlohmann::json;

namespace {

json optional_json(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json speed_rows_json(const SpeedComparison& speed) {
  json rows = json::array();
  for (const auto& r : speed.rows)
    rows.push_back({{"name", r.name}, {"time_measure", r.time_measure()}, {"repetitions", r.repetitions},
                    {"median_ns", r.median_ns}, {"ratio", r.ratio}, {"min_ratio", r.min_ratio},
                    {"max_ratio", r.max_ratio}, {"baseline_ratio", optional_json(r.baseline_ratio)},
                    {"change", optional_json(r.change)}, {"band_low", optional_json(r.band_low)},
                    {"band_high", optional_json(r.band_high)}, {"status", to_string(r.status)}});
  return rows;
}

json accuracy_rows_json(const std::vector<AccuracyRow>& accuracy) {
  json rows = json::array();
  for (const auto& r : accuracy) {
    json e = accuracy_set_json(r.name, r.report);
    e["status"] = to_string(r.status);
    e["baseline"] = r.baseline ? *r.baseline : json(nullptr);
    e["mape_delta_points"] = r.baseline ? json(r.mape_delta_pts) : json(nullptr);
    e["max_abs_error_delta_points"] = r.baseline ? json(r.max_delta_pts) : json(nullptr);
    e["kendall_tau_delta"] = optional_json(r.tau_delta);
    e["refused_delta"] = r.refused_delta ? json(*r.refused_delta) : json(nullptr);
    rows.push_back(std::move(e));
  }
  return rows;
}

}  // namespace

RegressionReport make_report(const ReportOptions& options, const std::function<void(const std::string&)>& note) {
  RegressionReport report;
  report.options = options;
  report.baseline = read_baseline(options.baseline_file);
  if (!report.baseline && !options.update_baseline)
    note("no baseline at " + options.baseline_file +
         "; figures are printed without comparison (create one with --update-baseline)");
  const json baseline = report.baseline ? *report.baseline : json(nullptr);
  if (!options.bench_file.empty()) {
    report.speed = compare_speed(read_bench_runs(options.bench_file), baseline, options.calibration,
                                 options.speed_threshold_pct / 100);
    for (const auto& n : report.speed->notes) note(n);
  }
  if (options.accuracy)
    report.accuracy = compare_accuracy(validation_files(options.validate_files, options.data_dir), baseline,
                                       options.accuracy_thresholds);
  report.verdict = decide(report.speed ? &*report.speed : nullptr, report.accuracy, options.speed_gate);
  return report;
}

json report_json(const RegressionReport& report) {
  const ReportOptions& o = report.options;
  json j;
  j["baseline_file"] = o.baseline_file;
  j["baseline_generated"] = report.baseline ? report.baseline->value("generated", json(nullptr)) : json(nullptr);
  j["thresholds"] = {{"speed_fraction", o.speed_threshold_pct / 100},
                     {"mape_points", o.accuracy_thresholds.mape_pts},
                     {"max_abs_error_points", o.accuracy_thresholds.max_error_pts},
                     {"speed_gates", report.verdict.speed_gates},
                     {"load_per_cpu_at_start", report.verdict.load_per_cpu}};
  if (report.speed)
    j["speed"] = {{"calibration", report.speed->calibration},
                  {"machine_factor", report.speed->machine_factor > 0 ? json(report.speed->machine_factor) : json(nullptr)},
                  {"benchmarks", speed_rows_json(*report.speed)}};
  if (o.accuracy) j["accuracy"] = accuracy_rows_json(report.accuracy);
  j["regressions"] = report.verdict.regressions;
  j["advisories"] = report.verdict.advisories;
  j["status"] = report.verdict.regressed() ? "regressed" : "ok";
  return j;
}

json report_page(const RegressionReport& report) {
  const ReportOptions& o = report.options;
  json page;
  page["title"] = "hpsim report: speed and accuracy";
  page["subtitle"] = report.baseline ? "compared with " + o.baseline_file + " (generated " +
                                           report.baseline->value("generated", std::string("?")) + ")"
                                     : "no baseline: figures only";
  page["summary"] = report.verdict.regressed()
                        ? fmt::format("{} regression(s) past the thresholds.", report.verdict.regressions.size())
                        : std::string("No regression past the thresholds.");
  if (report.speed)
    page["speed"] = {{"calibration", o.calibration}, {"threshold", o.speed_threshold_pct / 100},
                     {"benchmarks", speed_rows_json(*report.speed)},
                     {"note", fmt::format("Median time of each benchmark over the median of {} in the same run; "
                                          "regression: more than {:.0f} % slower with every repetition agreeing.",
                                          o.calibration, o.speed_threshold_pct)}};
  if (o.accuracy) page["accuracy"] = accuracy_rows_json(report.accuracy);
  return page;
}

}  // namespace hpsim::bench
