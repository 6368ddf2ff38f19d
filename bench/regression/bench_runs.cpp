#include "bench/regression/bench_runs.hpp"

#include <algorithm>
#include <fstream>

#include "core/error.hpp"

namespace hpsim::bench {

using nlohmann::json;

json read_json_file(const std::string& path, const std::string& flag) {
  std::ifstream in(path);
  if (!in) throw core::InputError(path, flag, "cannot read the file");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw core::InputError(path, flag, std::string("valid JSON (") + e.what() + ")");
  }
}

BenchRuns read_bench_runs(const std::string& path) { return bench_runs_from_json(read_json_file(path, "--bench"), path); }

BenchRuns bench_runs_from_json(const json& j, const std::string& path) {
  if (!j.contains("benchmarks") || !j["benchmarks"].is_array())
    throw core::InputError(path, "benchmarks", "a Google Benchmark JSON file (--benchmark_out_format=json)");
  static const std::map<std::string, double> kScale = {{"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
  BenchRuns r;
  r.path = path;
  r.context = j.value("context", json::object());
  for (const auto& b : j["benchmarks"]) {
    if (b.value("run_type", std::string("iteration")) != "iteration" || b.value("error_occurred", false)) continue;
    const std::string name = b.value("run_name", b.value("name", std::string()));
    const auto unit = kScale.find(b.value("time_unit", std::string("ns")));
    if (name.empty() || unit == kScale.end() || !b.contains("cpu_time") || !b.contains("real_time"))
      throw core::InputError(path, "benchmarks", "runs with run_name, time_unit, cpu_time and real_time");
    const double t = b[timed_in_real_time(name) ? "real_time" : "cpu_time"].get<double>() * unit->second;
    if (!r.times_ns.count(name)) r.order.push_back(name);
    r.times_ns[name].push_back(t);
  }
  return r;
}

bool timed_in_real_time(const std::string& name) {
  return name.size() >= 10 && name.compare(name.size() - 10, 10, "/real_time") == 0;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double load_per_cpu(const json& context) {
  if (context.contains("load_avg") && context["load_avg"].is_array() && !context["load_avg"].empty() &&
      context.value("num_cpus", 0) > 0)
    return context["load_avg"][0].get<double>() / context["num_cpus"].get<double>();
  return 0;
}

}  // namespace hpsim::bench
