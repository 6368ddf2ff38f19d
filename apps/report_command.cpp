#include "apps/report_command.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "apps/html_report.hpp"
#include "bench/regression/accuracy.hpp"
#include "bench/regression/baseline.hpp"
#include "bench/regression/report.hpp"
#include "core/error.hpp"

namespace hpsim::apps {

namespace {

bench::ReportOptions report_options(const ReportArgs& a) {
  bench::ReportOptions o;
  o.baseline_file = a.baseline;
  o.update_baseline = a.update_baseline;
  o.bench_file = a.bench_file;
  o.calibration = a.calibration;
  o.speed_threshold_pct = a.speed_threshold_pct;
  o.speed_gate = {a.speed_advisory, a.max_load_per_cpu};
  o.accuracy = !a.no_accuracy;
  o.validate_files = a.validate_files;
  o.data_dir = a.data_dir;
  o.accuracy_thresholds = {a.mape_threshold_pts, a.max_error_threshold_pts};
  return o;
}

void write_text_file(const std::string& path, const std::string& flag, const std::string& text) {
  std::ofstream out(path);
  if (!out) throw core::InputError(path, flag, "cannot write the file");
  out << text;
}

/// A report compares figures with a baseline: without a baseline file (unless creating one) or without anything to
/// measure (no benchmark run, no validation file) it would pass having checked nothing, so it refuses.
void refuse_without_inputs(const ReportArgs& a) {
  if (!a.update_baseline && !std::filesystem::is_regular_file(a.baseline))
    throw core::InputError(a.baseline, "--baseline",
                           "a baseline file to compare with (none there; create one with --update-baseline)");
  if (a.no_accuracy && a.bench_file.empty())
    throw core::InputError("command line", "--bench",
                           "a benchmark run, or the accuracy section (without --no-accuracy): nothing to report");
  if (!a.no_accuracy && bench::validation_files(a.validate_files, a.data_dir).empty())
    throw core::InputError(a.data_dir.empty() ? std::string("validation/") : a.data_dir,
                           a.data_dir.empty() ? "--validate" : "--data",
                           "at least one validation file (.yaml): none found");
}

/// Markdown (or JSON) on stdout, and the files asked for.
void write_report(const bench::RegressionReport& report, const ReportArgs& a, Format format) {
  const nlohmann::json j = bench::report_json(report);
  const std::string md = bench::report_markdown(report);
  std::cout << (format == Format::json ? j.dump(2) + "\n" : md);
  if (!a.out_json.empty()) write_text_file(a.out_json, "--out", j.dump(2) + "\n");
  if (!a.markdown_file.empty()) write_text_file(a.markdown_file, "--markdown", md);
  if (!a.html_file.empty()) write_html_page(a.html_file, "--html", bench::report_page(report));
}

}  // namespace

CLI::App* add_report_command(CLI::App& app, ReportArgs& a) {
  auto* cmd = app.add_subcommand(
      "report", "compare a benchmark run and the accuracy on the measured data sets with the committed baseline");
  cmd->add_option("--bench", a.bench_file, "Google Benchmark JSON with repetitions (bench/ci_bench.sh writes it)");
  cmd->add_option("--validate", a.validate_files, "validation files to track (default: every file of the checkout's validation/)");
  cmd->add_option("--data", a.data_dir, "track the validation files of this directory instead (its .yaml files, and those of its published/ and measured/)");
  cmd->add_flag("--no-accuracy", a.no_accuracy, "skip the accuracy section");
  cmd->add_option("--baseline", a.baseline, "baseline file (default bench/baseline.json)");
  cmd->add_flag("--update-baseline", a.update_baseline,
                "write this run's figures to the baseline (sections not measured now are kept) and exit 0");
  cmd->add_option("--out", a.out_json, "also write the report as JSON to this file");
  cmd->add_option("--markdown", a.markdown_file, "also write the Markdown report to this file");
  cmd->add_option("--html", a.html_file, "also write a self-contained HTML page (speed chart, accuracy plot)");
  cmd->add_option("--calibration", a.calibration,
                  "benchmark that every time is divided by (default BM_EventQueue/65536)");
  cmd->add_option("--speed-threshold", a.speed_threshold_pct, "percent slower that regresses (default 25)");
  cmd->add_option("--mape-threshold", a.mape_threshold_pts, "MAPE points up that regress (default 0.5)");
  cmd->add_option("--max-error-threshold", a.max_error_threshold_pts, "max |error| points up that regress (default 1)");
  cmd->add_flag("--speed-advisory", a.speed_advisory, "print speed regressions but do not fail on them");
  cmd->add_option("--max-load-per-cpu", a.max_load_per_cpu,
                  "speed is advisory when the run started with a higher 1-minute load per CPU (default 1.5)");
  return cmd;
}

int run_report_command(const ReportArgs& a, Format format) {
  refuse_without_inputs(a);
  const bench::RegressionReport report = bench::make_report(
      report_options(a), [](const std::string& note) { std::cerr << "hpsim report: " << note << "\n"; });
  write_report(report, a, format);
  if (a.update_baseline) {
    bench::write_baseline(report);
    return 0;
  }
  return report.verdict.regressed() ? kRegressionExit : 0;
}

}  // namespace hpsim::apps
