#pragma once
/// `hpsim report`: speed and accuracy tracked on every change. Compares a Google Benchmark run (JSON with
/// repetitions, bench/ci_bench.sh) and `validate` over the measured data sets with a committed baseline
/// (bench/baseline.json); prints Markdown, writes JSON and an HTML page, and exits 4 when a tracked figure regresses
/// past its threshold. `--update-baseline` rewrites the baseline from this run instead. See bench/README.md. The
/// comparison, the verdict and the renderings are bench/regression/ (hpsim_regression); this is their command line.
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "apps/output.hpp"

namespace hpsim::apps {

/// Exit status of `hpsim report` when a tracked figure regressed past its threshold.
inline constexpr int kRegressionExit = 4;

struct ReportArgs {
  std::string bench_file;                   ///< Google Benchmark JSON; empty: no speed section
  std::vector<std::string> validate_files;  ///< explicit validation files; empty: every file under data_dir
  std::string data_dir;                     ///< default ../shared/data (published/*.yaml, measured/*.yaml)
  bool no_accuracy = false;
  std::string baseline = "bench/baseline.json";
  bool update_baseline = false;
  std::string out_json, html_file, markdown_file;
  std::string calibration = "BM_EventQueue/65536";
  double speed_threshold_pct = 25;     ///< median slower by more, with the whole noise band past it
  double mape_threshold_pts = 0.5;     ///< MAPE up by more than this many percentage points
  double max_error_threshold_pts = 1;  ///< max |error| up by more than this many points
  bool speed_advisory = false;         ///< report speed regressions without failing
  /// Speed is advisory for a run that started with the 1-minute load average above this many per CPU (the machine
  /// was oversubscribed: memory-bound benchmarks slow down against the cache-resident calibration).
  double max_load_per_cpu = 1.5;
};

CLI::App* add_report_command(CLI::App& app, ReportArgs& args);
int run_report_command(const ReportArgs& args, Format format);

}  // namespace hpsim::apps
