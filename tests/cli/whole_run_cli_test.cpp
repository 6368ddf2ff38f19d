#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "run_hpsim.hpp"

using hpsim_test::hpsim;
using hpsim_test::Outcome;

namespace {

const char* const kFields[] = {"train_tokens", "days", "gpu_hours", "cost", "checkpoint_bytes",
                               "checkpoint_interval_s", "expected_interruptions", "goodput", "days_p50", "days_p90",
                               "straggler_loss"};
const std::string kSmall = "simulate --model llama3-8b --cluster dgx-h100:4 --tp 2 --global-batch-size 256 ";

}  // namespace

TEST_CASE("cli: --train-tokens adds the contract's whole_run to simulate and to each plan") {
  const Outcome s = hpsim(kSmall + "--train-tokens 1e12 --format json");
  REQUIRE(s.code == 0);
  const auto run = nlohmann::json::parse(s.out).at("whole_run");
  for (const char* key : kFields) CHECK_MESSAGE(run.contains(key), key);
  // 1e12 / (256 * 8192) = 476837.2 steps, rounded up.
  CHECK(run.at("steps") == 476838);
  CHECK(run.at("cost").is_null());  // the base preset states no price
  CHECK(run.at("straggler_loss") == 0.0);
  CHECK(run.at("days").get<double>() >= run.at("ideal_days").get<double>());

  const Outcome p = hpsim("plan --model llama3-8b --cluster dgx-h100:4 --global-batch-size 256 --top 2 "
                          "--train-tokens 1e12 --format json");
  REQUIRE(p.code == 0);
  for (const auto& plan : nlohmann::json::parse(p.out).at("plans"))
    for (const char* key : kFields) CHECK_MESSAGE(plan.at("whole_run").contains(key), key);

  const Outcome t = hpsim("plan --model llama3-8b --cluster dgx-h100:4 --global-batch-size 256 --top 2 "
                          "--train-tokens 1e12");
  REQUIRE(t.code == 0);
  CHECK(t.out.find("whole run of 1e+12 tokens") != std::string::npos);
}

TEST_CASE("cli: a cluster's price and stragglers reach the whole run") {
  const std::string path = hpsim_test::temp_path("slow.yaml");
  std::ofstream(path) << "preset: dgx-h100:4\nslow_node_fraction: 1\nslow_node_slowdown: 1.5\n"
                         "gpu_hour_price_usd: 2\n";
  const Outcome o = hpsim("simulate --model llama3-8b --cluster " + path +
                          " --tp 2 --global-batch-size 256 --train-tokens 1e12 --format json");
  std::remove(path.c_str());
  REQUIRE(o.code == 0);
  const auto j = nlohmann::json::parse(o.out);
  const auto& run = j.at("whole_run");
  // Every node slow in every sample: one placement simulated, the step's compute at 1.5x, its communication as it
  // was (at most the whole step 1.5x).
  const double step = j.at("step_time_s").get<double>();
  const double compute = j.at("breakdown_s").at("compute").get<double>();
  const auto& st = j.at("stragglers");
  CHECK(st.at("method") == "simulated");
  CHECK(st.at("samples") == 32);
  CHECK(st.at("simulations") == 1);
  const double mean = st.at("mean_step_s").get<double>();
  CHECK(st.at("p50_step_s").get<double>() == doctest::Approx(mean));
  CHECK(st.at("p99_step_s").get<double>() == doctest::Approx(mean));
  CHECK(mean > step + 0.45 * compute);
  CHECK(mean <= step * 1.5 * (1 + 1e-9));
  CHECK(run.at("step_time_s").get<double>() == doctest::Approx(mean));
  CHECK(run.at("straggler_loss").get<double>() == doctest::Approx(1 - step / mean));
  CHECK(run.at("straggler_estimate") == "simulated");
  CHECK(run.at("cost").get<double>() == doctest::Approx(2 * run.at("gpu_hours").get<double>()));
}

TEST_CASE("cli: bad --train-tokens values exit 2 with one line naming the flag") {
  for (const std::string v : {"0", "-1", "abc", "2e18", "inf"}) {
    CAPTURE(v);
    const Outcome o = hpsim(kSmall + "--train-tokens " + v);
    CHECK(o.code == 2);
    CHECK(o.err.find("--train-tokens") != std::string::npos);
    CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
    const Outcome p = hpsim("plan --model llama3-8b --cluster dgx-h100:4 --global-batch-size 256 --train-tokens " + v);
    CHECK(p.code == 2);
  }
}

TEST_CASE("cli: --rank-by time-to-train orders plans by expected days, stragglers included") {
  // One GPU of the node at half speed: a pp1 plan runs all its compute at that pace, a pipelined one only a stage's.
  const std::string path = hpsim_test::temp_path("slow_gpu.yaml");
  std::ofstream(path) << "preset: dgx-h100:1\nslow_gpus: [{node: 0, gpu: 0, slowdown: 2}]\n";
  const std::string plan = "plan --model gpt-1.7b --cluster " + path + " --global-batch-size 64 --top 5 ";
  const Outcome by_step = hpsim(plan + "--train-tokens 1e9 --format json");
  const Outcome by_days = hpsim(plan + "--train-tokens 1e9 --rank-by time-to-train --format json");
  const Outcome no_tokens = hpsim(plan + "--rank-by time-to-train");
  const Outcome bad = hpsim(plan + "--train-tokens 1e9 --rank-by speed");
  std::remove(path.c_str());
  REQUIRE(by_step.code == 0);
  REQUIRE(by_days.code == 0);
  const auto steps = nlohmann::json::parse(by_step.out).at("plans");
  const auto days = nlohmann::json::parse(by_days.out).at("plans");
  REQUIRE(days.size() == 5);
  bool differs = false;
  for (std::size_t i = 0; i < days.size(); ++i) {
    CHECK(days[i].at("whole_run").at("stragglers").at("method") == "simulated");
    if (i > 0) CHECK(days[i - 1].at("whole_run").at("days") <= days[i].at("whole_run").at("days"));
    differs = differs || days[i].at("plan") != steps[i].at("plan");
  }
  CHECK(differs);  // a pipelined plan, slower per step, loses less to the slow GPU and moves up
  // The best by days is no slower to train than the best per step (here a pipelined plan from beyond the first
  // pool of 4 x --top: the pool grew until nothing beyond it could win).
  CHECK(days[0].at("whole_run").at("days").get<double>() <= steps[0].at("whole_run").at("days").get<double>());
  CHECK(no_tokens.code == 2);
  CHECK(no_tokens.err.find("--rank-by") != std::string::npos);
  CHECK(bad.code == 2);
  CHECK(bad.err.find("expected step-time or time-to-train") != std::string::npos);
}

TEST_CASE("cli: a sweep over the whole-run keys lists each point's days and goodput") {
  const std::string sweep = "plan --model gpt-1.7b --cluster dgx-h100:2 --global-batch-size 64 --train-tokens 1e11 "
                            "--set interruptions_per_gpu_day=1e-3,1e-2 --set checkpoint_write_gbyte_per_s=1,100 ";
  const Outcome j = hpsim(sweep + "--format json");
  REQUIRE(j.code == 0);
  const auto points = nlohmann::json::parse(j.out).at("points");
  REQUIRE(points.size() == 4);
  const auto days = [&](std::size_t i) { return points[i].at("whole_run").at("days").get<double>(); };
  const auto goodput = [&](std::size_t i) { return points[i].at("whole_run").at("goodput").get<double>(); };
  // Points in order (1e-3, 1), (1e-3, 100), (1e-2, 1), (1e-2, 100): more interruptions or slower checkpoints cost
  // goodput; the same plan on each point, so the days follow.
  CHECK(goodput(0) < goodput(1));
  CHECK(goodput(2) < goodput(3));
  CHECK(goodput(2) < goodput(0));
  CHECK(days(2) > days(0));
  CHECK(points[1].at("whole_run").at("mtbf_s").get<double>() ==
        doctest::Approx(10 * points[3].at("whole_run").at("mtbf_s").get<double>()));
  const Outcome t = hpsim(sweep);
  REQUIRE(t.code == 0);
  CHECK(t.out.find("goodput %") != std::string::npos);
  CHECK(t.out.find("days") != std::string::npos);
}

TEST_CASE("cli: the HTML plan report gains the whole-run section with --train-tokens") {
  const std::string html = hpsim_test::temp_path("whole_run.html");
  const Outcome o = hpsim("plan --model gpt-1.7b --cluster dgx-h100:1 --global-batch-size 64 --top 3 "
                          "--train-tokens 1e9 --html " + html);
  REQUIRE(o.code == 0);
  std::ifstream in(html);
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(html.c_str());
  CHECK(page.find("\"whole_run\"") != std::string::npos);
  CHECK(page.find("whole_run_caption") != std::string::npos);
  CHECK(page.find("drawWholeRun") != std::string::npos);
}
