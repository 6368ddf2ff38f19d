#include "bench/regression/baseline.hpp"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "bench/regression/bench_runs.hpp"
#include "core/error.hpp"

namespace hpsim::bench {

using nlohmann::json;

namespace {

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

json speed_section(const SpeedComparison& speed) {
  json s = json::object();
  for (const auto& r : speed.rows) {
    if (r.status == SpeedStatus::missing) continue;
    s[r.name] = {{"median_ratio", r.ratio}, {"min_ratio", r.min_ratio}, {"max_ratio", r.max_ratio},
                 {"median_ns", r.median_ns}, {"repetitions", r.repetitions}, {"time_measure", r.time_measure()}};
  }
  return s;
}

json accuracy_section(const std::vector<AccuracyRow>& accuracy) {
  json acc = json::object();
  for (const auto& r : accuracy)
    acc[r.name] = {{"cases", r.report.cases.size()},
                   {"refused", r.report.refused.size()},
                   {"mape", r.report.mape},
                   {"max_abs_error", r.report.max_abs_error},
                   {"mean_kendall_tau", r.report.rankings.empty() ? json(nullptr) : json(r.report.mean_kendall_tau)}};
  return acc;
}

}  // namespace

std::optional<json> read_baseline(const std::string& path) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  json baseline = read_json_file(path, "--baseline");
  if (baseline.value("schema", std::string()) != kBaselineSchema)
    throw core::InputError(path, "schema", std::string("\"") + kBaselineSchema + "\"");
  return baseline;
}

json updated_baseline(const RegressionReport& report, const std::string& generated) {
  json nb = report.baseline ? *report.baseline : json::object();
  nb["schema"] = kBaselineSchema;
  nb["generated"] = generated;
  nb["how"] = "bench/update_baseline.sh: hpsim_bench JSON (bench/ci_bench.sh settings) and hpsim validate, through "
              "hpsim report --update-baseline";
  if (report.speed) {
    const json& context = report.speed->context;
    // The machine the speed figures come from (kept when only accuracy is updated).
    nb["machine"] = {{"cpu", cpu_model()},
                     {"num_cpus", context.value("num_cpus", json(nullptr))},
                     {"load_avg", context.value("load_avg", json(nullptr))}};
    nb["calibration"] = report.speed->calibration;
    nb["speed"] = speed_section(*report.speed);
  }
  if (report.options.accuracy && !report.accuracy.empty()) nb["accuracy"] = accuracy_section(report.accuracy);
  return nb;
}

void write_baseline(const RegressionReport& report) {
  const std::string& path = report.options.baseline_file;
  const json nb = updated_baseline(report, now_utc());
  std::ofstream out(path);
  if (!out) throw core::InputError(path, "--baseline", "cannot write the file");
  out << nb.dump(2) << "\n";
}

}  // namespace hpsim::bench
