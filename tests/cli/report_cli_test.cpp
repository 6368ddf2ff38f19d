// End-to-end tests of `hpsim report` (speed against the baseline as in-run ratios to a calibration benchmark, with
// noise bands; accuracy deltas; exit 4 past a threshold; --update-baseline) and of `hpsim plan --html`. The benchmark
// runs are synthetic Google Benchmark JSON files, so the verdicts are exact.
#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run_hpsim.hpp"

namespace {

using namespace hpsim_test;
using nlohmann::json;
using Times = std::map<std::string, std::vector<double>>;  // benchmark -> CPU time (ns) per repetition

std::string bench_file(const std::string& name, const Times& times, double load = 0.5) {
  json runs = json::array();
  for (const auto& [bench, ts] : times)
    for (std::size_t i = 0; i < ts.size(); ++i)
      runs.push_back({{"name", bench}, {"run_name", bench}, {"run_type", "iteration"}, {"repetitions", ts.size()},
                      {"repetition_index", i}, {"threads", 1}, {"iterations", 100}, {"real_time", ts[i] * 3},
                      {"cpu_time", ts[i]}, {"time_unit", "ns"}});
  // An aggregate row, as libbenchmark writes with repetitions: ignored.
  runs.push_back({{"name", "BM_A_median"}, {"run_name", "BM_A"}, {"run_type", "aggregate"}, {"real_time", 1e9},
                  {"cpu_time", 1e9}, {"time_unit", "ns"}});
  return write_temp(name, json{{"context", {{"num_cpus", 2}, {"load_avg", {load, load, load}}}}, {"benchmarks", runs}}.dump());
}

const std::string kCases = write_temp("report_cases.yaml", R"(cases:
  - {id: a, source: test, model: gpt-1.7b, cluster: dgx-a100-80gb:1, measured_step_time_s: 3.0,
     plan: {tp: 1, pp: 1, global_batch_size: 64, micro_batch_size: 4, precision: fp16}}
  - {id: b, source: test, model: gpt-1.7b, cluster: dgx-a100-80gb:1, measured_step_time_s: 3.5,
     plan: {tp: 2, pp: 1, global_batch_size: 64, micro_batch_size: 4, precision: fp16}}
)");

const Times kBase = {{"BM_EventQueue/65536", {30, 31, 29, 30, 30}},
                     {"BM_A", {1000, 1010, 990, 1000, 1005}},
                     {"BM_B", {5000, 5100, 4900, 5000, 5050}}};

/// A baseline from kBase (speed only unless `accuracy`).
std::string make_baseline(const std::string& name, bool accuracy = false) {
  const std::string path = temp_path(name);
  std::remove(path.c_str());
  const Outcome o = hpsim("report --bench " + bench_file(name + ".bench.json", kBase) + " --baseline " + path +
                          " --update-baseline " + (accuracy ? "--validate " + kCases : std::string("--no-accuracy")));
  CAPTURE(o.err);
  REQUIRE(o.code == 0);
  return path;
}

Outcome report(const std::string& baseline, const Times& now, const std::string& extra = "") {
  return hpsim("report --no-accuracy --baseline " + baseline + " --bench " + bench_file("now.json", now) + " " + extra);
}

}  // namespace

TEST_CASE("report: --update-baseline writes ratios to the calibration benchmark and the accuracy") {
  const std::string path = make_baseline("baseline_write.json", true);
  const json b = json::parse(slurp(path));
  CHECK(b["schema"] == "hpsim-report-baseline/1");
  CHECK(b["calibration"] == "BM_EventQueue/65536");
  CHECK(b["speed"]["BM_A"]["median_ratio"].get<double>() == doctest::Approx(1000.0 / 30));
  CHECK(b["speed"]["BM_A"]["repetitions"] == 5);
  CHECK(b["speed"]["BM_A"]["time_measure"] == "cpu_time");
  CHECK(b["speed"].size() == 3);  // the aggregate row is not a benchmark
  const std::string cases_name = kCases.substr(kCases.rfind('/') + 1);
  REQUIRE(b["accuracy"].contains(cases_name));
  CHECK(b["accuracy"][cases_name]["cases"] == 2);
  CHECK(b["accuracy"][cases_name]["mape"].get<double>() > 0);

  // Updating only speed keeps the accuracy section.
  const Outcome o = hpsim("report --no-accuracy --bench " + bench_file("again.json", kBase) + " --baseline " + path +
                          " --update-baseline");
  REQUIRE(o.code == 0);
  CHECK(json::parse(slurp(path))["accuracy"].contains(cases_name));
  const json machine = json::parse(slurp(path))["machine"];

  // Updating only accuracy (no benchmark run) keeps the speed section and the machine it was measured on.
  const Outcome acc = hpsim("report --validate " + kCases + " --baseline " + path + " --update-baseline");
  CAPTURE(acc.err);
  REQUIRE(acc.code == 0);
  const json after = json::parse(slurp(path));
  CHECK(after["speed"].size() == 3);
  CHECK(after["machine"] == machine);
  CHECK(after["accuracy"].contains(cases_name));
  std::remove(path.c_str());
}

TEST_CASE("report: unchanged figures pass and print the Markdown tables") {
  const std::string base = make_baseline("baseline_same.json");
  const Outcome o = report(base, kBase);
  CAPTURE(o.out);
  CHECK(o.code == 0);
  CHECK(o.out.find("## hpsim benchmark and accuracy report") != std::string::npos);
  CHECK(o.out.find("| `BM_A` | 5 |") != std::string::npos);
  CHECK(o.out.find("+0.0 %") != std::string::npos);
  CHECK(o.out.find("no regression") != std::string::npos);
}

TEST_CASE("report: a benchmark slower past the threshold in every repetition fails with exit 4") {
  const std::string base = make_baseline("baseline_slow.json");
  Times now = kBase;
  now["BM_A"] = {1500, 1480, 1520, 1510, 1490};  // +50 %, every repetition
  const std::string out_json = temp_path("report_slow_out.json");
  const Outcome o = report(base, now, "--out " + out_json);
  CAPTURE(o.out);
  CHECK(o.code == 4);
  CHECK(o.out.find("**regressed**") != std::string::npos);
  CHECK(o.out.find("1 regression past the thresholds") != std::string::npos);
  const json j = json::parse(slurp(out_json));
  CHECK(j["status"] == "regressed");
  for (const auto& b : j["speed"]["benchmarks"]) {
    if (b["name"] != "BM_A") continue;
    CHECK(b["status"] == "regressed");
    CHECK(b["change"].get<double>() == doctest::Approx(0.5).epsilon(0.01));
    CHECK(b["band_low"].get<double>() == doctest::Approx(1480.0 / 1000 - 1).epsilon(0.01));
    CHECK(b["band_high"].get<double>() == doctest::Approx(1520.0 / 1000 - 1).epsilon(0.01));
  }
  std::remove(out_json.c_str());

  // Advisory: printed, not failing.
  const Outcome adv = report(base, now, "--speed-advisory");
  CHECK(adv.code == 0);
  CHECK(adv.out.find("advisory") != std::string::npos);
  // A higher threshold lets it pass.
  CHECK(report(base, now, "--speed-threshold 60").code == 0);

  // On an oversubscribed machine (1-minute load 3.5 on 2 CPUs) speed is advisory.
  const Outcome busy = hpsim("report --no-accuracy --baseline " + base + " --bench " + bench_file("busy.json", now, 3.5));
  CAPTURE(busy.out);
  CHECK(busy.code == 0);
  CHECK(busy.out.find("oversubscribed") != std::string::npos);
  CHECK(busy.out.find("**regressed** (advisory)") != std::string::npos);
}

TEST_CASE("report: benchmarks timed in real time (multi-threaded) never fail the report") {
  Times base_times = kBase;
  base_times["BM_Plan/real_time"] = {100, 100, 100};
  const std::string base = temp_path("baseline_real.json");
  std::remove(base.c_str());
  REQUIRE(hpsim("report --no-accuracy --update-baseline --baseline " + base + " --bench " +
                bench_file("real_base.json", base_times))
              .code == 0);
  Times now = base_times;
  now["BM_Plan/real_time"] = {200, 200, 200};  // +100 % (the real time; the file's is 3x the CPU time)
  const Outcome o = report(base, now);
  CAPTURE(o.out);
  CHECK(o.code == 0);
  CHECK(o.out.find("| `BM_Plan/real_time` | 3 |") != std::string::npos);
  CHECK(o.out.find("+100.0 %") != std::string::npos);
  CHECK(o.out.find("**regressed** (advisory)") != std::string::npos);
  std::remove(base.c_str());
}

TEST_CASE("report: a slower median whose repetitions disagree is noise, not a regression") {
  const std::string base = make_baseline("baseline_noisy.json");
  Times now = kBase;
  now["BM_A"] = {1500, 1480, 1010, 1510, 1490};  // median +49 %, one repetition as fast as before
  const Outcome o = report(base, now);
  CAPTURE(o.out);
  CHECK(o.code == 0);
  CHECK(o.out.find("noisy") != std::string::npos);
}

TEST_CASE("report: a uniformly slower machine is not a regression (times are ratios to the calibration)") {
  const std::string base = make_baseline("baseline_machine.json");
  Times now = kBase;
  for (auto& [name, ts] : now)
    for (auto& t : ts) t *= 2;
  const Outcome o = report(base, now);
  CAPTURE(o.out);
  CHECK(o.code == 0);
  CHECK(o.out.find("2.00× the baseline's time") != std::string::npos);
  // Faster code is never a regression; a benchmark absent from the run or new to it is listed.
  now = kBase;
  now["BM_B"] = {2500, 2500, 2500, 2500, 2500};
  now.erase("BM_A");
  now["BM_New"] = {10, 10, 10};
  const Outcome o2 = report(base, now);
  CAPTURE(o2.out);
  CHECK(o2.code == 0);
  CHECK(o2.out.find("−50.0 %") != std::string::npos);
  CHECK(o2.out.find("missing (not run)") != std::string::npos);
  CHECK(o2.out.find("| `BM_New` | 3 |") != std::string::npos);
}

TEST_CASE("report: accuracy worse than the baseline by more than the thresholds fails") {
  const std::string base = make_baseline("baseline_acc.json", true);
  const std::string cases_name = kCases.substr(kCases.rfind('/') + 1);
  // Unchanged: passes.
  Outcome o = hpsim("report --baseline " + base + " --validate " + kCases);
  CAPTURE(o.out);
  CHECK(o.code == 0);
  CHECK(o.out.find("| " + cases_name + " | 2 |") != std::string::npos);
  CHECK(o.out.find("+0.00") != std::string::npos);

  // A baseline 0.4 points better on MAPE passes; 0.6 points better fails; max error 1.2 points better fails.
  json b = json::parse(slurp(base));
  const double mape = b["accuracy"][cases_name]["mape"].get<double>();
  const double max_err = b["accuracy"][cases_name]["max_abs_error"].get<double>();
  auto with = [&](double mape_delta, double max_delta) {
    json c = b;
    c["accuracy"][cases_name]["mape"] = mape - mape_delta;
    c["accuracy"][cases_name]["max_abs_error"] = max_err - max_delta;
    std::ofstream(base) << c.dump();
    return hpsim("report --baseline " + base + " --validate " + kCases);
  };
  CHECK(with(0.004, 0.009).code == 0);
  o = with(0.006, 0);
  CHECK(o.code == 4);
  CHECK(o.out.find("**regressed**") != std::string::npos);
  CHECK(with(0, 0.012).code == 4);
  std::remove(base.c_str());
}

TEST_CASE("report: a case hpsim cannot express is counted, and more refusals than the baseline regress") {
  const std::string cases = write_temp("report_refused_cases.yaml", R"(cases:
  - {id: a, source: test, model: gpt-1.7b, cluster: dgx-a100-80gb:1, measured_step_time_s: 3.0,
     plan: {tp: 1, pp: 1, global_batch_size: 64, micro_batch_size: 4, precision: fp16}}
  - {id: odd, source: test, model: gpt-1.7b, cluster: dgx-a100-80gb:1, measured_step_time_s: 3.0,
     plan: {pp: 2, vpp: 5, dp: 1, global_batch_size: 64}}
)");
  const std::string name = cases.substr(cases.rfind('/') + 1);
  const std::string base = temp_path("baseline_refused.json");
  std::ofstream(base) << R"({"schema": "hpsim-report-baseline/1"})";  // a baseline without this data set
  // A new data set starts its baseline: figures, not a regression.
  Outcome o = hpsim("report --baseline " + base + " --validate " + cases + " --format json");
  CAPTURE(o.out);
  CHECK(o.code == 0);
  json j = json::parse(o.out);
  REQUIRE(j["accuracy"].size() == 1);
  CHECK(j["accuracy"][0]["status"] == "new");
  CHECK(j["accuracy"][0]["cases"].size() == 1);
  REQUIRE(j["accuracy"][0]["refused"].size() == 1);
  CHECK(j["accuracy"][0]["refused"][0]["id"] == "odd");
  REQUIRE(hpsim("report --baseline " + base + " --validate " + cases + " --update-baseline").code == 0);
  CHECK(json::parse(slurp(base))["accuracy"][name]["refused"] == 1);
  o = hpsim("report --baseline " + base + " --validate " + cases);
  CHECK(o.code == 0);
  CHECK(o.out.find("| " + name + " | 1 | 1 | +0 |") != std::string::npos);
  // The baseline answered both: one more refusal is a regression.
  json b = json::parse(slurp(base));
  b["accuracy"][name]["refused"] = 0;
  std::ofstream(base) << b.dump();
  o = hpsim("report --baseline " + base + " --validate " + cases);
  CHECK(o.code == 4);
  CHECK(o.out.find("refused cases +1") != std::string::npos);
  std::remove(base.c_str());
}

TEST_CASE("report: JSON output, the HTML page and bad input") {
  const std::string base = make_baseline("baseline_misc.json");
  const std::string html = temp_path("report.html");
  const Outcome o = report(base, kBase, "--format json --html " + html);
  REQUIRE(o.code == 0);
  const json j = json::parse(o.out);
  CHECK(j["speed"]["calibration"] == "BM_EventQueue/65536");
  CHECK(j["speed"]["benchmarks"].size() == 3);
  CHECK(j["regressions"].empty());
  const std::string page = slurp(html);
  CHECK(page.find("<!DOCTYPE html>") != std::string::npos);
  CHECK(page.find("\"speed\"") != std::string::npos);
  CHECK(page.find("<script src") == std::string::npos);
  std::remove(html.c_str());

  expect_input_error("report --no-accuracy --bench /nonexistent/bench.json --baseline " + base, "--bench");
  expect_input_error("report --no-accuracy --bench " + bench_file("nocal.json", {{"BM_A", {1, 2}}}) +
                         " --baseline " + base,
                     "--calibration");
  expect_input_error("report --no-accuracy --bench " + write_temp("bad.json", "{not json") + " --baseline " + base,
                     "--bench");
  expect_input_error("report --data /nonexistent/data --baseline " + base, "--data");
  std::remove(base.c_str());
}

TEST_CASE("plan --html writes one self-contained page with the plans and the best plan's timeline") {
  const std::string html = temp_path("plan.html");
  std::remove(html.c_str());
  const Outcome o = hpsim("plan --model gpt-1.7b --cluster dgx-a100-80gb:2 --global-batch-size 64 --top 4 --html " +
                          html);
  CAPTURE(o.err);
  REQUIRE(o.code == 0);
  CHECK(o.out.find("HTML report written to " + html) != std::string::npos);
  const std::string page = slurp(html);
  CHECK(page.find("id=\"hpsim-data\"") != std::string::npos);
  CHECK(page.find("\"timeline\"") != std::string::npos);
  CHECK(page.find("\"breakdown_s\"") != std::string::npos);
  CHECK(page.find("<script src") == std::string::npos);
  CHECK(page.find("<link") == std::string::npos);
  std::remove(html.c_str());

  // A sweep too.
  const Outcome s = hpsim("plan --model gpt-1.7b --cluster dgx-a100-80gb:2 --global-batch-size 64 "
                          "--set nic_bandwidth_gbit_per_s=100,200 --html " + html);
  REQUIRE(s.code == 0);
  CHECK(slurp(html).find("nic_bandwidth_gbit_per_s=100") != std::string::npos);
  std::remove(html.c_str());

  expect_input_error("plan --model gpt-1.7b --cluster dgx-a100-80gb:2 --global-batch-size 64 --html /nonexistent/x.html",
                     "--html");
}
