#pragma once
/// Reading a Google Benchmark JSON run (with repetitions, as bench/ci_bench.sh writes it) into times per benchmark.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hpsim::bench {

/// Per benchmark, the time of each repetition in ns: CPU time, except for benchmarks timed in real time
/// ("/real_time": multi-threaded, where the CPU time counts the main thread only).
struct BenchRuns {
  std::string path;                                      ///< the file read, named in errors
  std::vector<std::string> order;                        ///< benchmarks in the order the file first lists them
  std::map<std::string, std::vector<double>> times_ns;   ///< per benchmark, one time per repetition
  nlohmann::json context;                                ///< the run's "context" (num_cpus, load_avg, ...)
};

/// A JSON file; unreadable or invalid is an InputError naming `flag`.
nlohmann::json read_json_file(const std::string& path, const std::string& flag);

/// The iteration rows of a Google Benchmark JSON file (aggregates and failed runs skipped); errors name `--bench`.
BenchRuns read_bench_runs(const std::string& path);

/// Parses the same from JSON already read (`path` only names it in errors).
BenchRuns bench_runs_from_json(const nlohmann::json& j, const std::string& path);

/// Whether a benchmark is timed in wall time (its name ends in "/real_time").
bool timed_in_real_time(const std::string& name);

/// The median (the mean of the middle two for an even count); 0 for none.
double median(std::vector<double> values);

/// The 1-minute load average per CPU when the run started, from its context; 0 when the context does not say.
double load_per_cpu(const nlohmann::json& context);

}  // namespace hpsim::bench
