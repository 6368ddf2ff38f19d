#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
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
  // Every node slow: the step's compute at 1.5x, the rest as it was.
  const double step = j.at("step_time_s").get<double>();
  const double compute = j.at("breakdown_s").at("compute").get<double>();
  CHECK(run.at("step_time_s").get<double>() == doctest::Approx(step + 0.5 * compute));
  CHECK(run.at("straggler_loss").get<double>() == doctest::Approx(0.5 * compute / (step + 0.5 * compute)));
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
