// Uneven pipeline splits end to end: Llama 3.1 405B's 126 layers on pp 8, as a split key gives them or as hpsim
// balances them, in simulate's table, JSON and trace and in plan's Megatron-LM arguments.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "run_hpsim.hpp"

namespace {

using namespace hpsim_test;
using nlohmann::json;

const std::string k405b =
    "--model llama3-405b --cluster dgx-h100:128 --tp 8 --pp 8 --global-batch-size 512 --sp true --zero 1 ";

json simulate_json(const std::string& args) {
  const Outcome o = hpsim("simulate " + k405b + args + " --format json");
  CAPTURE(o.err);
  REQUIRE(o.code == 0);
  return json::parse(o.out);
}

}  // namespace

TEST_CASE("uneven pipeline: no split key and pp not dividing the layers gets the balanced split, recorded") {
  const json j = simulate_json("");
  // The LM head and loss outweigh the embedding: 15 layers on each end stage, 16 on the others, as Megatron-Bridge's
  // recipe splits them (embedding and loss accounted).
  CHECK(j["plan"]["account_for_embedding_in_pipeline_split"] == true);
  CHECK(j["plan"]["account_for_loss_in_pipeline_split"] == true);
  CHECK(j["pipeline_split"]["even"] == false);
  CHECK(j["pipeline_split"]["layers_per_stage"] == json::array({15, 16, 16, 16, 16, 16, 16, 15}));
  const Outcome text = hpsim("simulate " + k405b);
  REQUIRE(text.code == 0);
  CHECK(text.out.find("pipeline split  layers per stage 15 16 16 16 16 16 16 15") != std::string::npos);
}

TEST_CASE("uneven pipeline: given first/last stage counts are kept; each stage's layers are in the trace") {
  const std::string trace = temp_path("uneven_trace.json");
  // 18 first, 12 last, (126 - 30) / 6 = 16 on each of the others.
  const json j = simulate_json("--decoder-first-pipeline-num-layers 18 --decoder-last-pipeline-num-layers 12 --trace " +
                               trace);
  CHECK(j["plan"]["decoder_first_pipeline_num_layers"] == 18);
  CHECK(j["plan"]["account_for_loss_in_pipeline_split"] == false);
  CHECK(j["pipeline_split"]["layers_per_virtual_stage"] == json::array({18, 16, 16, 16, 16, 16, 16, 12}));
  CHECK(j["pipeline_split"]["even"] == false);
  const std::string names = slurp(trace);
  CHECK(names.find("stage 0, 18 layers") != std::string::npos);
  CHECK(names.find("stage 7, 12 layers") != std::string::npos);
  std::remove(trace.c_str());
}

TEST_CASE("uneven pipeline: a split Megatron refuses is exit 2 naming the key and why") {
  expect_input_error("simulate " + k405b + "--decoder-first-pipeline-num-layers 15", "decoder_first_pipeline_num_layers");
  expect_input_error("simulate " + k405b + "--vpp 8 --account-for-embedding-in-pipeline-split true",
                     "account_for_embedding_in_pipeline_split");
  expect_input_error("simulate " + k405b + "--decoder-last-pipeline-num-layers 15 --account-for-loss-in-pipeline-split true",
                     "decoder_last_pipeline_num_layers");
}

TEST_CASE("uneven pipeline: plan --emit megatron gives the balanced split's Megatron-LM arguments") {
  const Outcome o = hpsim("plan " + k405b + "--vpp 8 --micro-batch-size 1 --recompute none --top 1 --emit megatron");
  CAPTURE(o.err);
  REQUIRE(o.code == 0);
  CHECK(o.out.find("--account-for-embedding-in-pipeline-split") != std::string::npos);
  CHECK(o.out.find("--account-for-loss-in-pipeline-split") != std::string::npos);
  CHECK(o.out.find("--num-virtual-stages-per-pipeline-rank 8") != std::string::npos);
  CHECK(o.out.find("--num-layers-per-virtual-pipeline-stage") == std::string::npos);
}
