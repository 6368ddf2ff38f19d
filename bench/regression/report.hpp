#pragma once
/// The regression report behind `hpsim report`: a benchmark run and `validate` on the tracked data sets compared with
/// the committed baseline (bench/baseline.json), the verdict, and its renderings (JSON, Markdown, the HTML page's
/// data). See bench/README.md, "Regression report".
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/regression/accuracy.hpp"
#include "bench/regression/speed.hpp"
#include "bench/regression/verdict.hpp"

namespace hpsim::bench {

/// What to compare and the thresholds (the options of `hpsim report`).
struct ReportOptions {
  std::string baseline_file = "bench/baseline.json";
  bool update_baseline = false;  ///< the run is to rewrite the baseline (no comparison note without one)
  std::string bench_file;        ///< Google Benchmark JSON; empty: no speed section
  std::string calibration = "BM_EventQueue/65536";
  double speed_threshold_pct = 25;  ///< median slower by more, with the whole noise band past it
  SpeedGate speed_gate;
  bool accuracy = true;                     ///< false: no accuracy section
  std::vector<std::string> validate_files;  ///< explicit validation files; empty: every file under data_dir
  std::string data_dir;                     ///< empty: the checkout's validation/
  AccuracyThresholds accuracy_thresholds;
};

/// The comparison of one run with the baseline, and the verdict.
struct RegressionReport {
  ReportOptions options;
  std::optional<nlohmann::json> baseline;  ///< the baseline file; none when there is no file yet
  std::optional<SpeedComparison> speed;    ///< when a benchmark run was given
  std::vector<AccuracyRow> accuracy;       ///< when options.accuracy
  Verdict verdict;
};

/// Reads the baseline and the benchmark run, validates the data sets and decides. Bad input is an InputError naming
/// the option; `note` receives what the terminal should be told on the way (no baseline, incomparable figures).
RegressionReport make_report(const ReportOptions& options, const std::function<void(const std::string&)>& note);

/// The report as JSON (`hpsim report --format json`, `--out`).
nlohmann::json report_json(const RegressionReport& report);

/// The report as Markdown (what `hpsim report` prints, `--markdown`).
std::string report_markdown(const RegressionReport& report);

/// The data of the HTML page (title, subtitle, summary, speed, accuracy; apps/html_report.hpp draws it).
nlohmann::json report_page(const RegressionReport& report);

}  // namespace hpsim::bench
