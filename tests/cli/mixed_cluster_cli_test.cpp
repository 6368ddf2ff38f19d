// Mixed clusters end to end: `plan` on two GPU types reports the layers per stage it chose by speed, what the mix
// costs against the homogeneous alternatives (table and JSON), writes pipeline_layers to the plan file that
// `simulate --plan` reads back; a bad node_groups file exits 2 naming the field.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "run_hpsim.hpp"

namespace {

using namespace hpsim_test;
using nlohmann::json;

const std::string kArgs = "--model llama3-8b --cluster " + std::string(HPSIM_SOURCE_DIR) +
                          "/examples/clusters/mixed-h100-a100.yaml --global-batch-size 64 --seq-length 4096 --tp 8 "
                          "--pp 4 --threads 1 ";

}  // namespace

TEST_CASE("mixed cluster: plan reports the speed split and what the mix costs") {
  const Outcome o = hpsim("plan " + kArgs + "--top 3 --format json");
  CAPTURE(o.err);
  REQUIRE(o.code == 0);
  const json j = json::parse(o.out);
  const json& layers = j["plans"][0]["plan"]["pipeline_layers"];
  REQUIRE(layers.size() == 4);
  CHECK(layers[0].get<int>() > layers[3].get<int>());  // the H100 stages hold more layers
  const json& mix = j["mixed_cluster"];
  CHECK(mix["best_step_s"].get<double>() < mix["best_even_split_step_s"].get<double>());
  REQUIRE(mix["homogeneous"].size() == 2);
  CHECK(mix["homogeneous"][0]["gpu"] == "h100-sxm");
  CHECK(mix["homogeneous"][0]["nodes"] == 4);

  const Outcome text = hpsim("plan " + kArgs + "--top 3");
  REQUIRE(text.code == 0);
  CHECK(text.out.find("what the mix costs") != std::string::npos);
  CHECK(text.out.find("as if homogeneous") != std::string::npos);
  CHECK(text.out.find("4 nodes of a100-80gb") != std::string::npos);
}

TEST_CASE("mixed cluster: the plan file holds pipeline_layers and simulates to the same step") {
  const std::string file = temp_path("mixed_plan.yaml");
  const Outcome planned = hpsim("plan " + kArgs + "--top 1 --format json --emit plan " + file);
  CAPTURE(planned.err);
  REQUIRE(planned.code == 0);
  const std::string text = slurp(file);
  CHECK(text.find("pipeline_layers: [") != std::string::npos);
  const Outcome simulated = hpsim("simulate --plan " + file + " --format json");
  CAPTURE(simulated.err);
  REQUIRE(simulated.code == 0);
  const json p = json::parse(planned.out), s = json::parse(simulated.out);
  CHECK(s["plan"]["pipeline_layers"] == p["plans"][0]["plan"]["pipeline_layers"]);
  CHECK(s["step_time_s"].get<double>() == doctest::Approx(p["plans"][0]["step_time_s"].get<double>()));
  std::remove(file.c_str());
}

TEST_CASE("mixed cluster: bad node_groups and pipeline_layers exit 2 naming the field") {
  const std::string bad = write_temp("bad_groups.yaml", "preset: dgx-h100\nnode_groups: [{nodes: 2}, {nodes: 2, gpu: a100-80gb, nic_gbit: 200}]\n");
  expect_input_error("plan --model llama3-8b --cluster " + bad + " --global-batch-size 64", "nic_gbit");
  const std::string both = write_temp("both.yaml", "preset: dgx-h100\nnodes: 4\nnode_groups: [{nodes: 4}]\n");
  expect_input_error("simulate --model llama3-8b --cluster " + both + " --global-batch-size 64", "nodes");
  const std::string plan = write_temp("bad_layers.yaml", "model: llama3-8b\ncluster: dgx-h100:4\nplan: {tp: 8, pp: 4, "
                                                         "global_batch_size: 64, pipeline_layers: [10, 10, 6]}\n");
  expect_input_error("simulate --plan " + plan, "pipeline_layers");
  std::remove(bad.c_str());
  std::remove(both.c_str());
  std::remove(plan.c_str());
}
