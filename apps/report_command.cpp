#include "apps/report_command.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/html_report.hpp"
#include "core/error.hpp"
#include "planner/plan_file.hpp"
#include "planner/validation.hpp"

namespace hpsim::apps {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSchema = "hpsim-report-baseline/1";

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

json read_json(const std::string& path, const std::string& flag) {
  std::ifstream in(path);
  if (!in) throw core::InputError(path, flag, "cannot read the file");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw core::InputError(path, flag, std::string("valid JSON (") + e.what() + ")");
  }
}

/// Per benchmark, the time of each repetition in ns: CPU time, except for benchmarks timed in real time
/// ("/real_time": multi-threaded, where the CPU time counts the main thread only).
struct BenchRuns {
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> times_ns;
  json context;
};

BenchRuns read_bench(const std::string& path) {
  const json j = read_json(path, "--bench");
  if (!j.contains("benchmarks") || !j["benchmarks"].is_array())
    throw core::InputError(path, "benchmarks", "a Google Benchmark JSON file (--benchmark_out_format=json)");
  static const std::map<std::string, double> kScale = {{"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
  BenchRuns r;
  r.context = j.value("context", json::object());
  for (const auto& b : j["benchmarks"]) {
    if (b.value("run_type", std::string("iteration")) != "iteration" || b.value("error_occurred", false)) continue;
    const std::string name = b.value("run_name", b.value("name", std::string()));
    const bool real = name.size() >= 10 && name.compare(name.size() - 10, 10, "/real_time") == 0;
    const auto unit = kScale.find(b.value("time_unit", std::string("ns")));
    if (name.empty() || unit == kScale.end() || !b.contains("cpu_time") || !b.contains("real_time"))
      throw core::InputError(path, "benchmarks", "runs with run_name, time_unit, cpu_time and real_time");
    const double t = b[real ? "real_time" : "cpu_time"].get<double>() * unit->second;
    if (!r.times_ns.count(name)) r.order.push_back(name);
    r.times_ns[name].push_back(t);
  }
  return r;
}

struct SpeedRow {
  std::string name, measure;
  int repetitions = 0;
  double median_ns = 0, ratio = 0, min_ratio = 0, max_ratio = 0;
  std::optional<double> baseline_ratio, change, band_low, band_high;
  std::string status;  ///< ok, noisy, regressed, new, missing, calibration
};

struct AccuracyRow {
  std::string name;
  planner::ValidationReport report;
  std::optional<json> baseline;
  double mape_delta_pts = 0, max_delta_pts = 0;
  std::optional<double> tau_delta;
  std::optional<long long> refused_delta;  ///< refused cases now minus in the baseline
  std::string status;  ///< ok, regressed, new
};

std::string signed_pct(double fraction, int digits = 1) {
  return fmt::format("{}{:.{}f} %", fraction >= 0 ? "+" : "−", std::abs(fraction) * 100, digits);
}

std::string signed_num(double v, int digits) {
  return fmt::format("{}{:.{}f}", v >= 0 ? "+" : "−", std::abs(v), digits);
}

/// A ratio to the calibration benchmark: 4 significant digits, thousands grouped ("71,360", "498.9", "1.166").
std::string ratio_text(double v) {
  if (v < 1000) return fmt::format("{:.4g}", v);
  std::string digits = fmt::format("{:.0f}", v), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string now_utc() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? "unknown" : line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "unknown";
}

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

// --validate FILE...: those files; --data DIR: an external directory; default: the checkout's validation/ (the
// project's own copies of the published runs; report runs from the checkout's root, as CI does).
std::vector<std::string> accuracy_files(const ReportArgs& a) {
  if (!a.validate_files.empty()) return a.validate_files;
  if (!a.data_dir.empty()) {
    if (!fs::is_directory(a.data_dir))
      throw core::InputError(a.data_dir, "--data", "a directory of validation files (.yaml, or published/ and measured/)");
    return yaml_files_under(a.data_dir);
  }
  return yaml_files_under("validation");
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
  std::optional<json> baseline;
  if (fs::exists(a.baseline)) {
    baseline = read_json(a.baseline, "--baseline");
    if (baseline->value("schema", std::string()) != kSchema)
      throw core::InputError(a.baseline, "schema", std::string("\"") + kSchema + "\"");
  } else if (!a.update_baseline) {
    std::cerr << "hpsim report: no baseline at " << a.baseline
              << "; figures are printed without comparison (create one with --update-baseline)\n";
  }
  const double speed_thr = a.speed_threshold_pct / 100;

  // --- speed ---------------------------------------------------------------------------------------------------
  std::vector<SpeedRow> speed;
  json bench_context;
  double machine_factor = 0;  // calibration benchmark's median time over the baseline's
  if (!a.bench_file.empty()) {
    const BenchRuns runs = read_bench(a.bench_file);
    bench_context = runs.context;
    const auto cal = runs.times_ns.find(a.calibration);
    if (cal == runs.times_ns.end())
      throw core::InputError(a.bench_file, "--calibration", "benchmark '" + a.calibration + "' in the run");
    const double cal_ns = median(cal->second);
    json base_speed = baseline ? baseline->value("speed", json::object()) : json::object();
    if (baseline && !base_speed.empty() && baseline->value("calibration", a.calibration) != a.calibration) {
      std::cerr << "hpsim report: the baseline's speed figures are relative to "
                << baseline->value("calibration", std::string()) << ", not " << a.calibration
                << "; speed is printed without comparison\n";
      base_speed = json::object();
    }
    // Sorted by name (a randomly interleaved run lists repetitions in random order), the calibration first.
    std::vector<std::string> names = runs.order;
    std::sort(names.begin(), names.end(), [&](const std::string& x, const std::string& y) {
      return std::make_pair(x != a.calibration, x) < std::make_pair(y != a.calibration, y);
    });
    for (const auto& name : names) {
      const auto& t = runs.times_ns.at(name);
      SpeedRow r;
      r.name = name;
      r.measure = name.size() >= 10 && name.compare(name.size() - 10, 10, "/real_time") == 0 ? "real_time" : "cpu_time";
      r.repetitions = static_cast<int>(t.size());
      r.median_ns = median(t);
      r.ratio = r.median_ns / cal_ns;
      r.min_ratio = *std::min_element(t.begin(), t.end()) / cal_ns;
      r.max_ratio = *std::max_element(t.begin(), t.end()) / cal_ns;
      if (base_speed.contains(name)) {
        const double b = base_speed[name].at("median_ratio").get<double>();
        r.baseline_ratio = b;
        r.change = r.ratio / b - 1;
        r.band_low = r.min_ratio / b - 1;
        r.band_high = r.max_ratio / b - 1;
        if (name == a.calibration) {
          r.status = "calibration";
          const double bns = base_speed[name].at("median_ns").get<double>();
          machine_factor = bns > 0 ? r.median_ns / bns : 0;
        } else if (*r.change > speed_thr && *r.band_low > speed_thr) {
          r.status = "regressed";
        } else if (*r.change > speed_thr) {
          r.status = "noisy";  // the median is past the threshold but the repetitions do not agree
        } else {
          r.status = "ok";
        }
      } else {
        r.status = name == a.calibration ? "calibration" : "new";
      }
      speed.push_back(std::move(r));
    }
    for (const auto& [name, b] : base_speed.items())
      if (!runs.times_ns.count(name)) {
        SpeedRow r;
        r.name = name;
        r.baseline_ratio = b.at("median_ratio").get<double>();
        r.status = "missing";
        speed.push_back(std::move(r));
      }
  }

  // --- accuracy ------------------------------------------------------------------------------------------------
  std::vector<AccuracyRow> accuracy;
  if (!a.no_accuracy) {
    const json base_acc = baseline ? baseline->value("accuracy", json::object()) : json::object();
    for (const auto& file : accuracy_files(a)) {
      AccuracyRow r;
      r.name = fs::path(file).filename().string();
      r.report = planner::validate_cases(planner::load_validation_file(file));
      r.status = "new";
      if (base_acc.contains(r.name)) {
        const json& b = base_acc[r.name];
        r.baseline = b;
        r.mape_delta_pts = (r.report.mape - b.at("mape").get<double>()) * 100;
        r.max_delta_pts = (r.report.max_abs_error - b.at("max_abs_error").get<double>()) * 100;
        if (!r.report.rankings.empty() && b.contains("mean_kendall_tau") && b["mean_kendall_tau"].is_number())
          r.tau_delta = r.report.mean_kendall_tau - b["mean_kendall_tau"].get<double>();
        // A baseline from before refusals were counted had every case answered.
        r.refused_delta = static_cast<long long>(r.report.refused.size()) - b.value("refused", 0LL);
        const bool bad = r.mape_delta_pts > a.mape_threshold_pts || r.max_delta_pts > a.max_error_threshold_pts ||
                         *r.refused_delta > 0;
        r.status = bad ? "regressed" : "ok";
      }
      accuracy.push_back(std::move(r));
    }
  }

  // --- verdict -------------------------------------------------------------------------------------------------
  // Speed gates unless asked not to, or the machine was oversubscribed when the run started; benchmarks timed in
  // real time (multi-threaded searches) never gate: their time measures the free cores as much as the code.
  double load_per_cpu = 0;
  if (bench_context.contains("load_avg") && bench_context["load_avg"].is_array() && !bench_context["load_avg"].empty() &&
      bench_context.value("num_cpus", 0) > 0)
    load_per_cpu = bench_context["load_avg"][0].get<double>() / bench_context["num_cpus"].get<double>();
  const bool oversubscribed = load_per_cpu > a.max_load_per_cpu;
  const bool speed_gates = !a.speed_advisory && !oversubscribed;
  std::vector<std::string> regressions, advisories;
  for (const auto& r : speed)
    if (r.status == "regressed")
      (speed_gates && r.measure != "real_time" ? regressions : advisories)
          .push_back(fmt::format("`{}` {} slower (band {} … {})", r.name, signed_pct(*r.change),
                                 signed_pct(*r.band_low), signed_pct(*r.band_high)));
  for (const auto& r : accuracy)
    if (r.status == "regressed")
      regressions.push_back(fmt::format("{}: MAPE {} points, max |error| {} points, refused cases {:+d}", r.name,
                                        signed_num(r.mape_delta_pts, 2), signed_num(r.max_delta_pts, 2),
                                        r.refused_delta.value_or(0)));

  // --- JSON ------------------------------------------------------------------------------------------------------
  auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  json j;
  j["baseline_file"] = a.baseline;
  j["baseline_generated"] = baseline ? baseline->value("generated", json(nullptr)) : json(nullptr);
  j["thresholds"] = {{"speed_fraction", speed_thr},
                     {"mape_points", a.mape_threshold_pts},
                     {"max_abs_error_points", a.max_error_threshold_pts},
                     {"speed_gates", speed_gates},
                     {"load_per_cpu_at_start", load_per_cpu}};
  json jspeed = json::array();
  for (const auto& r : speed)
    jspeed.push_back({{"name", r.name}, {"time_measure", r.measure}, {"repetitions", r.repetitions},
                      {"median_ns", r.median_ns}, {"ratio", r.ratio}, {"min_ratio", r.min_ratio},
                      {"max_ratio", r.max_ratio}, {"baseline_ratio", opt(r.baseline_ratio)}, {"change", opt(r.change)},
                      {"band_low", opt(r.band_low)}, {"band_high", opt(r.band_high)}, {"status", r.status}});
  if (!a.bench_file.empty())
    j["speed"] = {{"calibration", a.calibration},
                  {"machine_factor", machine_factor > 0 ? json(machine_factor) : json(nullptr)},
                  {"benchmarks", jspeed}};
  json jacc = json::array();
  for (const auto& r : accuracy) {
    json e = html_accuracy_set(r.name, r.report);
    e["status"] = r.status;
    e["baseline"] = r.baseline ? *r.baseline : json(nullptr);
    e["mape_delta_points"] = r.baseline ? json(r.mape_delta_pts) : json(nullptr);
    e["max_abs_error_delta_points"] = r.baseline ? json(r.max_delta_pts) : json(nullptr);
    e["kendall_tau_delta"] = opt(r.tau_delta);
    e["refused_delta"] = r.refused_delta ? json(*r.refused_delta) : json(nullptr);
    jacc.push_back(std::move(e));
  }
  if (!a.no_accuracy) j["accuracy"] = jacc;
  j["regressions"] = regressions;
  j["advisories"] = advisories;
  j["status"] = regressions.empty() ? "ok" : "regressed";

  // --- Markdown --------------------------------------------------------------------------------------------------
  std::string md = "## hpsim benchmark and accuracy report\n\n";
  md += baseline ? fmt::format("Compared with `{}` (generated {}).\n", a.baseline,
                               baseline->value("generated", std::string("?")))
                 : fmt::format("No baseline at `{}`: figures only.\n", a.baseline);
  if (!a.bench_file.empty()) {
    const auto load = bench_context.value("load_avg", json::array());
    std::string load_text;
    for (const auto& l : load) load_text += (load_text.empty() ? "" : ", ") + fmt::format("{:.2f}", l.get<double>());
    md += fmt::format(
        "\n### Speed\n\nEach benchmark's median time (CPU time; real time for `/real_time` ones) divided by the "
        "median of `{}` in the same run, against the same ratio in the baseline. Noise band: this run's fastest and "
        "slowest repetition against the baseline's median. A regression is a median more than {:.0f} % slower with "
        "the whole band past the threshold; it fails the report except for `/real_time` benchmarks (their wall "
        "time measures free cores as much as code). Load average at start: {}.\n",
        a.calibration, a.speed_threshold_pct, load_text.empty() ? "n/a" : load_text);
    if (a.speed_advisory)
      md += "Speed is advisory here (--speed-advisory): regressions are listed, not failed.\n";
    else if (oversubscribed)
      md += fmt::format("The machine was oversubscribed when the run started ({:.2f} load per CPU > {:g}): speed is "
                        "advisory for this run.\n",
                        load_per_cpu, a.max_load_per_cpu);
    if (machine_factor > 0)
      md += fmt::format("This machine ran the calibration benchmark at {:.2f}× the baseline's time.\n", machine_factor);
    md += "\n| benchmark | reps | median | / calibration | baseline | change | noise band | |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
    auto time_text = [](double ns) {
      if (ns >= 1e9) return fmt::format("{:.3g} s", ns / 1e9);
      if (ns >= 1e6) return fmt::format("{:.3g} ms", ns / 1e6);
      if (ns >= 1e3) return fmt::format("{:.3g} us", ns / 1e3);
      return fmt::format("{:.3g} ns", ns);
    };
    for (const auto& r : speed) {
      const std::string mark = r.status != "regressed" ? r.status
                               : speed_gates && r.measure != "real_time" ? "**regressed**"
                                                                         : "**regressed** (advisory)";
      if (r.status == "missing") {
        md += fmt::format("| `{}` | – | – | – | {} | – | – | missing (not run) |\n", r.name, ratio_text(*r.baseline_ratio));
        continue;
      }
      md += fmt::format("| `{}` | {} | {} | {} | {} | {} | {} | {} |\n", r.name, r.repetitions,
                        time_text(r.median_ns), ratio_text(r.ratio), r.baseline_ratio ? ratio_text(*r.baseline_ratio) : "–",
                        r.change ? signed_pct(*r.change) : "–",
                        r.band_low ? signed_pct(*r.band_low) + " … " + signed_pct(*r.band_high) : "–", mark);
    }
  }
  if (!a.no_accuracy) {
    md += fmt::format(
        "\n### Accuracy\n\n`hpsim validate` on each data set; deltas in percentage points against the baseline. A "
        "regression is MAPE up by more than {} points, max |error| up by more than {} point{}, or more cases "
        "refused (cases hpsim cannot express; excluded from MAPE).\n\n",
        a.mape_threshold_pts, a.max_error_threshold_pts, a.max_error_threshold_pts == 1 ? "" : "s");
    if (accuracy.empty()) {
      md += "No validation files found (looked in " + (a.data_dir.empty() ? "validation/" : a.data_dir) + ").\n";
    } else {
      md += "| data set | answered | refused | Δ | MAPE % | Δ | max \\|error\\| % | Δ | Kendall τ | Δ | |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
      for (const auto& r : accuracy) {
        const bool has_tau = !r.report.rankings.empty();
        const bool answered = !r.report.cases.empty();  // a set whose every case is refused has no error to average
        const auto pct_or_dash = [&](double v) { return answered ? fmt::format("{:.2f}", v * 100) : std::string("–"); };
        md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.name,
                          r.report.cases.size(), r.report.refused.size(),
                          r.refused_delta ? fmt::format("{:+d}", *r.refused_delta) : "–", pct_or_dash(r.report.mape),
                          r.baseline ? signed_num(r.mape_delta_pts, 2) : "–", pct_or_dash(r.report.max_abs_error),
                          r.baseline ? signed_num(r.max_delta_pts, 2) : "–",
                          has_tau ? fmt::format("{:.3f}", r.report.mean_kendall_tau) : "–",
                          r.tau_delta ? signed_num(*r.tau_delta, 3) : "–",
                          r.status == "regressed" ? "**regressed**" : r.status);
      }
    }
  }
  md += "\n";
  if (a.update_baseline)
    md += "**Baseline updated** from this run: `" + a.baseline + "`.\n";
  else if (regressions.empty())
    md += "**Result: no regression past the thresholds.**\n";
  else {
    md += fmt::format("**Result: {} regression{} past the thresholds:**\n", regressions.size(),
                      regressions.size() == 1 ? "" : "s");
    for (const auto& r : regressions) md += "- " + r + "\n";
  }
  if (!advisories.empty()) {
    md += "\nSpeed regressions (advisory, not failing):\n";
    for (const auto& r : advisories) md += "- " + r + "\n";
  }

  // --- outputs ---------------------------------------------------------------------------------------------------
  if (format == Format::json)
    std::cout << j.dump(2) << "\n";
  else
    std::cout << md;
  if (!a.out_json.empty()) {
    std::ofstream out(a.out_json);
    if (!out) throw core::InputError(a.out_json, "--out", "cannot write the file");
    out << j.dump(2) << "\n";
  }
  if (!a.markdown_file.empty()) {
    std::ofstream out(a.markdown_file);
    if (!out) throw core::InputError(a.markdown_file, "--markdown", "cannot write the file");
    out << md;
  }
  if (!a.html_file.empty()) {
    json page;
    page["title"] = "hpsim report: speed and accuracy";
    page["subtitle"] = baseline ? "compared with " + a.baseline + " (generated " +
                                      baseline->value("generated", std::string("?")) + ")"
                                : "no baseline: figures only";
    page["summary"] = regressions.empty() ? std::string("No regression past the thresholds.")
                                          : fmt::format("{} regression(s) past the thresholds.", regressions.size());
    if (!a.bench_file.empty())
      page["speed"] = {{"calibration", a.calibration}, {"threshold", speed_thr}, {"benchmarks", jspeed},
                       {"note", fmt::format("Median time of each benchmark over the median of {} in the same run; "
                                            "regression: more than {:.0f} % slower with every repetition agreeing.",
                                            a.calibration, a.speed_threshold_pct)}};
    if (!a.no_accuracy) page["accuracy"] = jacc;
    write_html_page(a.html_file, "--html", page);
  }

  if (a.update_baseline) {
    json nb = baseline ? *baseline : json::object();
    nb["schema"] = kSchema;
    nb["generated"] = now_utc();
    if (!a.bench_file.empty())  // the machine the speed figures come from (kept when only accuracy is updated)
      nb["machine"] = {{"cpu", cpu_model()},
                       {"num_cpus", bench_context.value("num_cpus", json(nullptr))},
                       {"load_avg", bench_context.value("load_avg", json(nullptr))}};
    nb["how"] = "bench/update_baseline.sh: hpsim_bench JSON (bench/ci_bench.sh settings) and hpsim validate, through "
                "hpsim report --update-baseline";
    if (!a.bench_file.empty()) {
      json s = json::object();
      for (const auto& r : speed) {
        if (r.status == "missing") continue;
        s[r.name] = {{"median_ratio", r.ratio}, {"min_ratio", r.min_ratio}, {"max_ratio", r.max_ratio},
                     {"median_ns", r.median_ns}, {"repetitions", r.repetitions}, {"time_measure", r.measure}};
      }
      nb["calibration"] = a.calibration;
      nb["speed"] = s;
    }
    if (!a.no_accuracy && !accuracy.empty()) {
      json acc = json::object();
      for (const auto& r : accuracy)
        acc[r.name] = {{"cases", r.report.cases.size()},
                       {"refused", r.report.refused.size()},
                       {"mape", r.report.mape},
                       {"max_abs_error", r.report.max_abs_error},
                       {"mean_kendall_tau", r.report.rankings.empty() ? json(nullptr) : json(r.report.mean_kendall_tau)}};
      nb["accuracy"] = acc;
    }
    std::ofstream out(a.baseline);
    if (!out) throw core::InputError(a.baseline, "--baseline", "cannot write the file");
    out << nb.dump(2) << "\n";
    return 0;
  }
  return regressions.empty() ? 0 : kRegressionExit;
}

}  // namespace hpsim::apps
