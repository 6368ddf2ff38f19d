// The regression report's verdicts (bench/regression) on hand-made figures: speed against the threshold and its noise
// band, accuracy against MAPE / max |error| thresholds and refused cases, which regressions gate, and the baseline
// update keeping what this run did not measure.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/regression/baseline.hpp"
#include "bench/regression/bench_runs.hpp"
#include "bench/regression/report.hpp"
#include "core/error.hpp"

using namespace hpsim::bench;
using nlohmann::json;

namespace {

const std::string kCal = "BM_EventQueue/65536";

/// A run whose calibration takes 10 ns, so each ratio is a tenth of the time.
BenchRuns runs(const std::map<std::string, std::vector<double>>& times, double load = 0.5) {
  BenchRuns r;
  r.path = "run.json";
  r.context = {{"num_cpus", 2}, {"load_avg", {load, load, load}}};
  r.times_ns = times;
  r.times_ns[kCal] = {10, 10, 10};
  for (const auto& [name, t] : r.times_ns) r.order.push_back(name);
  return r;
}

/// A baseline whose benchmarks had these median ratios to the calibration.
json baseline(const std::map<std::string, double>& ratios) {
  json speed = {{kCal, {{"median_ratio", 1.0}, {"median_ns", 10.0}}}};
  for (const auto& [name, ratio] : ratios) speed[name] = {{"median_ratio", ratio}};
  return {{"schema", kBaselineSchema}, {"calibration", kCal}, {"speed", speed}};
}

const SpeedRow& row(const SpeedComparison& c, const std::string& name) {
  for (const auto& r : c.rows)
    if (r.name == name) return r;
  FAIL("no row " << name);
  throw;
}

hpsim::planner::ValidationReport validation(double mape, double max_abs_error, std::size_t refused) {
  hpsim::planner::ValidationReport v;
  v.cases.resize(3);
  v.refused.resize(refused);
  v.mape = mape;
  v.max_abs_error = max_abs_error;
  return v;
}

json accuracy_entry(double mape, double max_abs_error, long long refused) {
  return {{"cases", 3}, {"refused", refused}, {"mape", mape}, {"max_abs_error", max_abs_error}};
}

}  // namespace

TEST_CASE("speed: a regression needs the median and the whole noise band past the threshold") {
  CHECK(speed_status(0.50, 0.30, 0.25) == SpeedStatus::regressed);
  CHECK(speed_status(0.50, 0.10, 0.25) == SpeedStatus::noisy);  // the band straddles the threshold
  CHECK(speed_status(0.25, 0.25, 0.25) == SpeedStatus::ok);     // at the threshold is not past it
  CHECK(speed_status(-0.5, -0.6, 0.25) == SpeedStatus::ok);     // faster never regresses
  CHECK(to_string(SpeedStatus::added) == "new");
}

TEST_CASE("speed: ratios to the calibration against the baseline, with the band from the extreme repetitions") {
  const SpeedComparison c = compare_speed(runs({{"BM_Slow", {150, 140, 160}}, {"BM_Noisy", {150, 110, 160}},
                                                {"BM_Same", {100, 100, 100}}, {"BM_New", {5}}}),
                                          baseline({{"BM_Slow", 10}, {"BM_Noisy", 10}, {"BM_Same", 10}, {"BM_Gone", 3}}),
                                          kCal, 0.25);
  REQUIRE(c.rows.size() == 6);
  CHECK(c.rows.front().name == kCal);
  CHECK(c.rows.front().status == SpeedStatus::calibration);
  CHECK(c.machine_factor == doctest::Approx(1.0));
  const SpeedRow& slow = row(c, "BM_Slow");
  CHECK(slow.ratio == doctest::Approx(15));
  CHECK(*slow.change == doctest::Approx(0.5));
  CHECK(*slow.band_low == doctest::Approx(0.4));
  CHECK(*slow.band_high == doctest::Approx(0.6));
  CHECK(slow.status == SpeedStatus::regressed);
  CHECK(row(c, "BM_Noisy").status == SpeedStatus::noisy);
  CHECK(row(c, "BM_Same").status == SpeedStatus::ok);
  CHECK(row(c, "BM_New").status == SpeedStatus::added);
  CHECK(row(c, "BM_Gone").status == SpeedStatus::missing);
  CHECK(row(c, "BM_Gone").time_measure().empty());
  CHECK(c.notes.empty());
}

TEST_CASE("speed: a uniformly slower machine changes no ratio; another calibration is not compared") {
  const SpeedComparison same = compare_speed(runs({{"BM_A", {100}}}), baseline({{"BM_A", 10}}), kCal, 0.25);
  BenchRuns slower = runs({{"BM_A", {200}}});
  slower.times_ns[kCal] = {20};
  const SpeedComparison c = compare_speed(slower, baseline({{"BM_A", 10}}), kCal, 0.25);
  CHECK(*row(c, "BM_A").change == doctest::Approx(0));
  CHECK(c.machine_factor == doctest::Approx(2));

  json other = baseline({{"BM_A", 10}});
  other["calibration"] = "BM_Other";
  const SpeedComparison o = compare_speed(runs({{"BM_A", {500}}}), other, kCal, 0.25);
  CHECK(row(o, "BM_A").status == SpeedStatus::added);
  REQUIRE(o.notes.size() == 1);
  CHECK(o.notes[0].find("relative to BM_Other") != std::string::npos);

  BenchRuns no_cal = runs({{"BM_A", {1}}});
  no_cal.times_ns.erase(kCal);
  CHECK_THROWS_AS(compare_speed(no_cal, json(nullptr), kCal, 0.25), hpsim::core::InputError);
}

TEST_CASE("speed: the benchmark JSON gives CPU time, real time for /real_time, in ns; aggregates are skipped") {
  const json j = {{"context", {{"num_cpus", 4}, {"load_avg", {6.0, 1.0, 1.0}}}},
                  {"benchmarks",
                   {{{"run_name", "BM_A"}, {"run_type", "iteration"}, {"cpu_time", 2}, {"real_time", 3}, {"time_unit", "us"}},
                    {{"run_name", "BM_P/real_time"}, {"cpu_time", 1}, {"real_time", 5}, {"time_unit", "ms"}},
                    {{"run_name", "BM_A"}, {"run_type", "aggregate"}, {"cpu_time", 9}, {"real_time", 9}}}}};
  const BenchRuns r = bench_runs_from_json(j, "x.json");
  CHECK(r.order == std::vector<std::string>{"BM_A", "BM_P/real_time"});
  CHECK(r.times_ns.at("BM_A") == std::vector<double>{2000});
  CHECK(r.times_ns.at("BM_P/real_time") == std::vector<double>{5e6});
  CHECK(load_per_cpu(r.context) == doctest::Approx(1.5));
  CHECK(median({3, 1, 2, 10}) == doctest::Approx(2.5));
  CHECK_THROWS_AS(bench_runs_from_json(json{{"benchmarks", 1}}, "x.json"), hpsim::core::InputError);
}

TEST_CASE("accuracy: MAPE or max |error| up past its threshold regresses, and so do more refused cases") {
  const AccuracyThresholds t{0.5, 1};
  const json base = accuracy_entry(0.10, 0.20, 1);
  CHECK(compare_accuracy_set("a", validation(0.104, 0.209, 1), base, t).status == AccuracyStatus::ok);
  const AccuracyRow mape = compare_accuracy_set("a", validation(0.106, 0.20, 1), base, t);
  CHECK(mape.mape_delta_pts == doctest::Approx(0.6));
  CHECK(mape.status == AccuracyStatus::regressed);
  CHECK(compare_accuracy_set("a", validation(0.10, 0.212, 1), base, t).status == AccuracyStatus::regressed);
  const AccuracyRow refused = compare_accuracy_set("a", validation(0.10, 0.20, 2), base, t);
  CHECK(*refused.refused_delta == 1);
  CHECK(refused.status == AccuracyStatus::regressed);
  // Better figures and fewer refusals are fine.
  CHECK(compare_accuracy_set("a", validation(0.05, 0.10, 0), base, t).status == AccuracyStatus::ok);
  // A baseline from before refusals were counted answered every case.
  json old = base;
  old.erase("refused");
  CHECK(compare_accuracy_set("a", validation(0.10, 0.20, 1), old, t).status == AccuracyStatus::regressed);
}

TEST_CASE("accuracy: a data set not in the baseline is new; Kendall tau is compared only when both rank") {
  const AccuracyRow fresh = compare_accuracy_set("b", validation(0.9, 0.9, 3), json(nullptr), {});
  CHECK(fresh.status == AccuracyStatus::added);
  CHECK(to_string(fresh.status) == "new");
  CHECK_FALSE(fresh.baseline);
  CHECK_FALSE(fresh.refused_delta);

  auto ranked = validation(0.1, 0.2, 0);
  ranked.rankings.resize(1);
  ranked.mean_kendall_tau = 0.6;
  json base = accuracy_entry(0.1, 0.2, 0);
  base["mean_kendall_tau"] = 0.8;
  const AccuracyRow r = compare_accuracy_set("c", ranked, base, {});
  REQUIRE(r.tau_delta);
  CHECK(*r.tau_delta == doctest::Approx(-0.2));
  CHECK(r.status == AccuracyStatus::ok);  // tau is printed, not gated
  CHECK_FALSE(compare_accuracy_set("c", validation(0.1, 0.2, 0), base, {}).tau_delta);
}

TEST_CASE("verdict: accuracy always gates; speed not when advisory, oversubscribed or timed in real time") {
  const json base = baseline({{"BM_A", 10}, {"BM_P/real_time", 10}});
  const auto slow = runs({{"BM_A", {200, 200}}, {"BM_P/real_time", {200, 200}}});
  const std::vector<AccuracyRow> worse = {compare_accuracy_set("d", validation(0.2, 0.2, 0), accuracy_entry(0.1, 0.2, 0), {})};

  const SpeedComparison c = compare_speed(slow, base, kCal, 0.25);
  Verdict v = decide(&c, {}, {});
  CHECK(v.speed_gates);
  REQUIRE(v.regressions.size() == 1);
  CHECK(v.regressions[0].rfind("`BM_A` +100.0 % slower", 0) == 0);
  REQUIRE(v.advisories.size() == 1);  // the real-time benchmark
  CHECK(v.advisories[0].rfind("`BM_P/real_time`", 0) == 0);

  v = decide(&c, worse, {.advisory = true});
  CHECK_FALSE(v.speed_gates);
  CHECK(v.advisories.size() == 2);
  REQUIRE(v.regressions.size() == 1);
  CHECK(v.regressions[0].rfind("d: MAPE +10.00 points", 0) == 0);

  const SpeedComparison busy = compare_speed(runs({{"BM_A", {200, 200}}}, 3.5), base, kCal, 0.25);
  v = decide(&busy, {}, {});
  CHECK(v.oversubscribed);
  CHECK(v.load_per_cpu == doctest::Approx(1.75));
  CHECK_FALSE(v.regressed());

  CHECK_FALSE(decide(nullptr, {}, {}).regressed());
}

TEST_CASE("baseline: an update rewrites what was measured and keeps the rest") {
  RegressionReport report;
  report.baseline = baseline({{"BM_A", 10}});
  (*report.baseline)["accuracy"] = {{"kept.yaml", accuracy_entry(0.1, 0.2, 0)}};
  report.speed = compare_speed(runs({{"BM_A", {50, 60}}, {"BM_P/real_time", {7}}}), *report.baseline, kCal, 0.25);
  report.options.accuracy = false;
  const json b = updated_baseline(report, "then");
  CHECK(b["schema"] == kBaselineSchema);
  CHECK(b["generated"] == "then");
  CHECK(b["speed"]["BM_A"]["median_ratio"].get<double>() == doctest::Approx(5.5));
  CHECK(b["speed"]["BM_P/real_time"]["time_measure"] == "real_time");
  CHECK(b["machine"]["num_cpus"] == 2);
  CHECK(b["accuracy"].contains("kept.yaml"));

  // Accuracy only: the speed section and its machine stay.
  RegressionReport acc;
  acc.baseline = b;
  acc.accuracy = {compare_accuracy_set("new.yaml", validation(0.1, 0.2, 0), json(nullptr), {})};
  const json a = updated_baseline(acc, "later");
  CHECK(a["speed"] == b["speed"]);
  CHECK(a["machine"] == b["machine"]);
  CHECK(a["accuracy"].contains("new.yaml"));
  CHECK_FALSE(a["accuracy"].contains("kept.yaml"));
}

TEST_CASE("report: JSON and Markdown name the statuses and the result") {
  RegressionReport report;
  report.baseline = baseline({{"BM_A", 10}});
  (*report.baseline)["generated"] = "then";
  report.options.accuracy = false;
  report.speed = compare_speed(runs({{"BM_A", {150, 150}}}), *report.baseline, kCal, 0.25);
  report.verdict = decide(&*report.speed, {}, {});
  const json j = report_json(report);
  CHECK(j["status"] == "regressed");
  CHECK(j["baseline_generated"] == "then");
  CHECK(j["speed"]["benchmarks"][1]["status"] == "regressed");
  CHECK_FALSE(j.contains("accuracy"));
  const std::string md = report_markdown(report);
  CHECK(md.find("| `BM_A` | 2 | 150 ns | 15 | 10 | +50.0 % | +50.0 % … +50.0 % | **regressed** |") != std::string::npos);
  CHECK(md.find("**Result: 1 regression past the thresholds:**") != std::string::npos);
  CHECK(report_page(report)["summary"] == "1 regression(s) past the thresholds.");
}
