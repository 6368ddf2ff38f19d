// The Markdown rendering of the report: a header, the speed and accuracy sections, the result.
#include <fmt/format.h>

#include "bench/regression/report.hpp"
#include "bench/regression/text.hpp"

namespace hpsim::bench {

using nlohmann::json;

namespace {

std::string header_markdown(const RegressionReport& report) {
  const std::string& file = report.options.baseline_file;
  std::string md = "## hpsim benchmark and accuracy report\n\n";
  md += report.baseline ? fmt::format("Compared with `{}` (generated {}).\n", file,
                                      report.baseline->value("generated", std::string("?")))
                        : fmt::format("No baseline at `{}`: figures only.\n", file);
  return md;
}

/// What the speed table compares, and why speed does not gate this run when it does not.
std::string speed_intro_markdown(const RegressionReport& report) {
  const ReportOptions& o = report.options;
  const SpeedComparison& speed = *report.speed;
  std::string load_text;
  for (const auto& l : speed.context.value("load_avg", json::array()))
    load_text += (load_text.empty() ? "" : ", ") + fmt::format("{:.2f}", l.get<double>());
  std::string md = fmt::format(
      "\n### Speed\n\nEach benchmark's median time (CPU time; real time for `/real_time` ones) divided by the "
      "median of `{}` in the same run, against the same ratio in the baseline. Noise band: this run's fastest and "
      "slowest repetition against the baseline's median. A regression is a median more than {:.0f} % slower with "
      "the whole band past the threshold; it fails the report except for `/real_time` benchmarks (their wall "
      "time measures free cores as much as code). Load average at start: {}.\n",
      o.calibration, o.speed_threshold_pct, load_text.empty() ? "n/a" : load_text);
  if (o.speed_gate.advisory)
    md += "Speed is advisory here (--speed-advisory): regressions are listed, not failed.\n";
  else if (report.verdict.oversubscribed)
    md += fmt::format("The machine was oversubscribed when the run started ({:.2f} load per CPU > {:g}): speed is "
                      "advisory for this run.\n",
                      report.verdict.load_per_cpu, o.speed_gate.max_load_per_cpu);
  if (speed.machine_factor > 0)
    md += fmt::format("This machine ran the calibration benchmark at {:.2f}× the baseline's time.\n",
                      speed.machine_factor);
  return md;
}

std::string speed_row_markdown(const SpeedRow& r, const Verdict& verdict) {
  if (r.status == SpeedStatus::missing)
    return fmt::format("| `{}` | – | – | – | {} | – | – | missing (not run) |\n", r.name, ratio_text(*r.baseline_ratio));
  const std::string mark = r.status != SpeedStatus::regressed ? to_string(r.status)
                           : verdict.fails(r)                 ? "**regressed**"
                                                              : "**regressed** (advisory)";
  return fmt::format("| `{}` | {} | {} | {} | {} | {} | {} | {} |\n", r.name, r.repetitions, time_text(r.median_ns),
                     ratio_text(r.ratio), r.baseline_ratio ? ratio_text(*r.baseline_ratio) : "–",
                     r.change ? signed_pct(*r.change) : "–",
                     r.band_low ? signed_pct(*r.band_low) + " … " + signed_pct(*r.band_high) : "–", mark);
}

std::string speed_markdown(const RegressionReport& report) {
  std::string md = speed_intro_markdown(report);
  md += "\n| benchmark | reps | median | / calibration | baseline | change | noise band | |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
  for (const auto& r : report.speed->rows) md += speed_row_markdown(r, report.verdict);
  return md;
}

std::string accuracy_row_markdown(const AccuracyRow& r) {
  const bool has_tau = !r.report.rankings.empty();
  const bool answered = !r.report.cases.empty();  // a set whose every case is refused has no error to average
  const auto pct_or_dash = [&](double v) { return answered ? fmt::format("{:.2f}", v * 100) : std::string("–"); };
  return fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.name, r.report.cases.size(),
                     r.report.refused.size(), r.refused_delta ? fmt::format("{:+d}", *r.refused_delta) : "–",
                     pct_or_dash(r.report.mape), r.baseline ? signed_num(r.mape_delta_pts, 2) : "–",
                     pct_or_dash(r.report.max_abs_error), r.baseline ? signed_num(r.max_delta_pts, 2) : "–",
                     has_tau ? fmt::format("{:.3f}", r.report.mean_kendall_tau) : "–",
                     r.tau_delta ? signed_num(*r.tau_delta, 3) : "–",
                     r.status == AccuracyStatus::regressed ? "**regressed**" : to_string(r.status));
}

std::string accuracy_markdown(const RegressionReport& report) {
  const ReportOptions& o = report.options;
  const AccuracyThresholds& t = o.accuracy_thresholds;
  std::string md = fmt::format(
      "\n### Accuracy\n\n`hpsim validate` on each data set; deltas in percentage points against the baseline. A "
      "regression is MAPE up by more than {} points, max |error| up by more than {} point{}, or more cases "
      "refused (cases hpsim cannot express; excluded from MAPE).\n\n",
      t.mape_pts, t.max_error_pts, t.max_error_pts == 1 ? "" : "s");
  if (report.accuracy.empty())
    return md + "No validation files found (looked in " + (o.data_dir.empty() ? "validation/" : o.data_dir) + ").\n";
  md += "| data set | answered | refused | Δ | MAPE % | Δ | max \\|error\\| % | Δ | Kendall τ | Δ | |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
  for (const auto& r : report.accuracy) md += accuracy_row_markdown(r);
  return md;
}

std::string result_markdown(const RegressionReport& report) {
  const Verdict& v = report.verdict;
  std::string md = "\n";
  if (report.options.update_baseline)
    md += "**Baseline updated** from this run: `" + report.options.baseline_file + "`.\n";
  else if (!v.regressed())
    md += "**Result: no regression past the thresholds.**\n";
  else {
    md += fmt::format("**Result: {} regression{} past the thresholds:**\n", v.regressions.size(),
                      v.regressions.size() == 1 ? "" : "s");
    for (const auto& r : v.regressions) md += "- " + r + "\n";
  }
  if (!v.advisories.empty()) {
    md += "\nSpeed regressions (advisory, not failing):\n";
    for (const auto& r : v.advisories) md += "- " + r + "\n";
  }
  return md;
}

}  // namespace

std::string report_markdown(const RegressionReport& report) {
  std::string md = header_markdown(report);
  if (report.speed) md += speed_markdown(report);
  if (report.options.accuracy) md += accuracy_markdown(report);
  return md + result_markdown(report);
}

}  // namespace hpsim::bench
