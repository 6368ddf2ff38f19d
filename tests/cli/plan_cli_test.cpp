// End-to-end tests of `hpsim plan`: the example, JSON/CSV output, pins, exit codes, --emit and --set sweeps. Each
// searches a small cluster so that the suite stays fast.
#include <algorithm>
#include <doctest/doctest.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run_hpsim.hpp"

namespace {

using namespace hpsim_test;
using nlohmann::json;

const std::string kSmall = "plan --model gpt-1.7b --cluster dgx-a100-80gb:2 --global-batch-size 64 ";

json plan_json(const std::string& args) {
  const Outcome o = hpsim(args + " --format json");
  CAPTURE(args);
  CAPTURE(o.err);
  REQUIRE(o.code == 0);
  return json::parse(o.out);
}

std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> cells;
    std::istringstream cells_in(line);
    for (std::string cell; std::getline(cells_in, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    rows.push_back(cells);
  }
  return rows;
}

}  // namespace

TEST_CASE("plan: without arguments it plans the built-in example and says so") {
  const Outcome o = hpsim("plan --top 3");
  CAPTURE(o.err);
  REQUIRE(o.code == 0);
  CHECK(o.err.find("built-in example") != std::string::npos);
  CHECK(o.out.find("llama3-70b on dgx-h100:8") != std::string::npos);
  CHECK(o.out.find("candidates considered") != std::string::npos);
  CHECK(o.out.find("why: ") != std::string::npos);
}

TEST_CASE("plan: JSON has the contract's fields and the plans best first") {
  const json j = plan_json(kSmall + "--top 5");
  for (const char* k : {"plans", "candidates", "feasible", "simulated", "search_time_s", "rejected", "why_best",
                        "model", "cluster"})
    CHECK(j.contains(k));
  CHECK(j["rejected"].is_object());
  CHECK(j["model"] == "gpt-1.7b");
  CHECK(j["cluster"] == "dgx-a100-80gb:2");
  REQUIRE(j["plans"].size() == 5);
  CHECK(j["candidates"].get<int>() >= j["feasible"].get<int>());
  CHECK(j["feasible"].get<int>() >= j["simulated"].get<int>());
  CHECK(j["simulated"].get<int>() >= 5);
  double previous = 0;
  for (const auto& p : j["plans"]) {
    for (const char* k : {"plan", "gpus", "step_time_s", "tokens_per_s", "mfu", "memory", "breakdown_s"})
      CHECK(p.contains(k));
    CHECK(p["memory"]["fits"] == true);
    CHECK(p["step_time_s"].get<double>() >= previous);
    previous = p["step_time_s"].get<double>();
  }
}

TEST_CASE("plan: pinned fields hold in every listed plan") {
  const json j = plan_json("plan --model gpt3-175b --cluster dgx-a100-80gb:16 --global-batch-size 256 --tp 8 --pp 8 "
                           "--recompute none,selective --zero 0..1");
  REQUIRE(!j["plans"].empty());
  for (const auto& p : j["plans"]) {
    CHECK(p["plan"]["tp"] == 8);
    CHECK(p["plan"]["pp"] == 8);
    CHECK(p["plan"]["recompute"] != "full");
    CHECK(p["plan"]["zero"].get<int>() <= 1);
  }
}

TEST_CASE("plan: impossible constraints exit 2 naming the rule, bad flags exit 2 naming the flag") {
  const Outcome o = hpsim("plan --model gpt3-175b --cluster dgx-a100-80gb:128 --global-batch-size 1536 --tp 5");
  CAPTURE(o.err);
  CHECK(o.code == 2);
  CHECK(o.err.find("tp") != std::string::npos);
  CHECK(o.err.find("heads") != std::string::npos);
  expect_input_error(kSmall + "--top abc", "--top");
  expect_input_error(kSmall + "--pp 4..x", "pp: expected a positive integer, got 'x'");
  expect_input_error(kSmall + "--recompute none,some", "recompute: expected none, selective, full or op_selective");
  expect_input_error(kSmall + "--sp maybe", "sp: expected true or false");
  expect_input_error(kSmall + "--precision fp4", "precision: expected fp32, fp16, bf16 or fp8");
  expect_input_error(kSmall + "--emit slides", "--emit");
  expect_input_error(kSmall + "--set no_such_key=1,2", "--set");
  expect_input_error(kSmall + "--set nic_bandwidth_gbit_per_s=fast", "nic_bandwidth_gbit_per_s");
  expect_input_error("plan --model gpt-1.7b --global-batch-size 64", "--cluster");
}

TEST_CASE("plan: a model that cannot fit exits 3 with what it needs") {
  const Outcome o = hpsim("plan --model gpt-1t --cluster dgx-a100-80gb:1 --global-batch-size 8");
  CAPTURE(o.err);
  CHECK(o.code == 3);
  CHECK(o.err.find("needs") != std::string::npos);
  CHECK(o.err.find("GiB") != std::string::npos);
}

TEST_CASE("plan: --emit megatron prints the best plan's Megatron-LM arguments") {
  const Outcome o = hpsim(kSmall + "--top 2 --tp 2 --recompute full --emit megatron");
  REQUIRE(o.code == 0);
  CHECK(o.out.find("--tensor-model-parallel-size 2") != std::string::npos);
  CHECK(o.out.find("--recompute-granularity full --recompute-method uniform") != std::string::npos);
  CHECK(o.out.find("--global-batch-size 64") != std::string::npos);
  CHECK(o.out.find("--bf16") != std::string::npos);
  const json j = plan_json(kSmall + "--top 1 --emit megatron");
  CHECK(j["megatron_args"].get<std::string>().find("--pipeline-model-parallel-size") != std::string::npos);
}

TEST_CASE("plan: --emit plan writes a plan file that simulate predicts the same") {
  const std::string file = temp_path("best_plan.yaml");
  const json planned = plan_json(kSmall + "--top 1 --pp 2 --emit plan " + file);
  const json simulated = json::parse(hpsim("simulate --plan " + file + " --format json").out);
  CHECK(simulated["plan"] == planned["plans"][0]["plan"]);
  CHECK(simulated["step_time_s"].get<double>() ==
        doctest::Approx(planned["plans"][0]["step_time_s"].get<double>()).epsilon(1e-12));
  std::remove(file.c_str());
}

TEST_CASE("plan: --set sweeps what-ifs, one row per point; a faster network is not slower") {
  const std::string csv_file = temp_path("sweep.csv");
  const json j = plan_json(kSmall + "--set nic_bandwidth_gbit_per_s=100,400 --csv " + csv_file);
  REQUIRE(j["points"].size() == 2);
  CHECK(j["points"][0]["set"]["nic_bandwidth_gbit_per_s"] == "100");
  const double slow = j["points"][0]["best"]["step_time_s"].get<double>();
  const double fast = j["points"][1]["best"]["step_time_s"].get<double>();
  CHECK(fast <= slow);
  const auto rows = parse_csv(slurp(csv_file));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0][0] == "nic_bandwidth_gbit_per_s");
  CHECK(rows[1].size() == rows[0].size());
  std::remove(csv_file.c_str());

  // A point where nothing fits gets a note in its row instead of ending the sweep.
  const Outcome o = hpsim(kSmall + "--set hbm_gib=4,80 --recompute none");
  CAPTURE(o.err);
  REQUIRE(o.code == 0);
  CHECK(o.out.find("no plan fits (needs") != std::string::npos);
  // Model fields of a preset, and grids of two keys.
  const json grid = plan_json(kSmall + "--set num_hidden_layers=12,24 --set global_batch_size=32,64");
  REQUIRE(grid["points"].size() == 4);
  CHECK(grid["points"][3]["best"]["plan"]["global_batch_size"] == 64);
}

TEST_CASE("plan: CSV is the table rows only and parses") {
  const Outcome o = hpsim(kSmall + "--top 4 --format csv");
  REQUIRE(o.code == 0);
  const auto rows = parse_csv(o.out);
  REQUIRE(rows.size() == 5);
  CHECK(rows[0][0] == "rank");
  const auto step = static_cast<std::size_t>(std::find(rows[0].begin(), rows[0].end(), "step s") - rows[0].begin());
  REQUIRE(step < rows[0].size());
  for (std::size_t i = 1; i < rows.size(); ++i) {
    CHECK(rows[i].size() == rows[0].size());
    CHECK(rows[i][0] == std::to_string(i));
    CHECK(std::stod(rows[i][step]) > 0);
  }
}
