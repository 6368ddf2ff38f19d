// Parity of the plan keys across the ways to give them: a plan file, `simulate` flags and `plan` flags read every
// key the same, `plan --emit plan` writes what `simulate --plan` reads back, and a bad value gets the same error.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "planner/plan_fields.hpp"
#include "run_hpsim.hpp"
#include "topologies/cluster_fields.hpp"

namespace {

using namespace hpsim_test;
using hpsim::planner::FieldType;
using hpsim::planner::plan_field_table;
using nlohmann::json;

// Mixtral on 4 DGX H100 (32 GPUs) with every key set and compatible: tp 2 pp 2 cp 2 dp 4, ep 2 (experts' tp 1), vpp 2,
// an uneven split.
const std::string kModelCluster = "--model mixtral-8x7b --cluster dgx-h100:4 ";
const std::vector<std::pair<std::string, std::string>> kPlan = {
    {"tp", "2"}, {"pp", "2"}, {"dp", "4"}, {"cp", "2"}, {"ep", "2"}, {"vpp", "2"}, {"sp", "true"},
    {"micro_batch_size", "2"}, {"global_batch_size", "64"}, {"seq_length", "2048"}, {"recompute", "selective"},
    {"zero", "1"}, {"precision", "fp16"}, {"schedule", "1f1b"}, {"tp_comm_overlap", "true"},
    {"cp_comm_overlap", "false"}, {"overlap_grad_reduce", "false"}, {"overlap_param_gather", "false"},
    {"flash_attention", "true"}, {"parameter_servers", "0"},
    // 32 layers on pp 2, vpp 2: 14 on the first stage (7 a virtual stage), the other 18 on the last.
    {"decoder_first_pipeline_num_layers", "14"}, {"decoder_last_pipeline_num_layers", "0"},
    {"account_for_embedding_in_pipeline_split", "false"}, {"account_for_loss_in_pipeline_split", "false"},
    {"fp8_recipe", "tensorwise"}, {"attention_backend", "flash2"}, {"execution", "eager"},
    {"framework", "megatron"},  // the only framework that runs every key above (cp, vpp, ZeRO-1 together)
    {"expert_tensor_parallel_size", "1"}, {"moe_expert_capacity_factor", "1.25"},
    {"moe_pad_expert_input_to_capacity", "true"}, {"moe_grouped_gemm", "false"}, {"moe_token_dispatcher", "allgather"},
    {"moe_load_imbalance", "1.5"}, {"fp8_param_gather", "false"},  // true needs precision fp8
    {"grad_dtype", "fp32"}, {"optimizer_dtype", "bf16"}};            // bf16 gradients need bf16 or fp8 training

std::string flags() {
  std::string s;
  for (const auto& [key, value] : kPlan) s += " " + std::string(hpsim::planner::find_plan_field(key)->flag) + " " + value;
  return s;
}

std::string plan_file(const std::string& name, const std::string& override_key = "", const std::string& bad = "") {
  std::string yaml = "model: mixtral-8x7b\ncluster: dgx-h100:4\nplan:\n";
  for (const auto& [key, value] : kPlan) yaml += "  " + key + ": " + (key == override_key ? bad : value) + "\n";
  return write_temp(name, yaml);
}

json plan_of(const Outcome& o) {
  CAPTURE(o.err);
  REQUIRE(o.code == 0);
  return json::parse(o.out)["plan"];
}

/// The error line from its field on: the part that must not depend on where the value came from.
std::string from_field(const std::string& err, const std::string& key) {
  const auto at = err.find(": " + key + ": ");
  return at == std::string::npos ? "(no '" + key + "' in: " + err + ")" : err.substr(at);
}

}  // namespace

TEST_CASE("plan keys: a file, simulate's flags and plan's flags give the same plan; every table key is covered") {
  REQUIRE(kPlan.size() == plan_field_table().size());
  for (const auto& f : plan_field_table()) {
    bool listed = false;
    for (const auto& [key, value] : kPlan) listed = listed || key == f.key;
    CHECK_MESSAGE(listed, f.key);
  }
  const json from_file = plan_of(hpsim_test::hpsim("simulate --plan " + plan_file("parity.yaml") + " --format json"));
  const json from_flags = plan_of(hpsim_test::hpsim("simulate " + kModelCluster + flags() + " --format json"));
  CHECK(from_file == from_flags);
  for (const auto& [key, value] : kPlan) CHECK_MESSAGE(from_file[key].dump() != "null", key);

  const Outcome planned = hpsim_test::hpsim("plan " + kModelCluster + flags() + " --top 1 --format json");
  CAPTURE(planned.err);
  REQUIRE(planned.code == 0);
  const json plans = json::parse(planned.out)["plans"];
  REQUIRE(plans.size() == 1);
  CHECK(plans[0]["plan"] == from_file);

  // file -> plan -> file: what `plan --emit plan` writes, `simulate --plan` reads back as the same plan.
  const std::string emitted = temp_path("parity_emitted.yaml");
  REQUIRE(hpsim_test::hpsim("plan " + kModelCluster + flags() + " --top 1 --emit plan " + emitted).code == 0);
  CHECK(plan_of(hpsim_test::hpsim("simulate --plan " + emitted + " --format json")) == from_file);
}

TEST_CASE("plan keys: a bad value gets the same one-line error from a file, simulate's flag and plan's flag") {
  for (const auto& f : plan_field_table()) {
    const std::string key(f.key);
    const bool numeric = f.type == FieldType::integer || f.type == FieldType::number;
    const std::string bad = numeric ? "x" : f.type == FieldType::boolean ? "maybe" : "nope";
    const Outcome file = hpsim_test::hpsim("simulate --plan " + plan_file("bad_" + key + ".yaml", key, bad));
    const Outcome sim = hpsim_test::hpsim("simulate " + kModelCluster + flags() + " " + std::string(f.flag) + " " + bad);
    const Outcome plan = hpsim_test::hpsim("plan " + kModelCluster + flags() + " " + std::string(f.flag) + " " + bad);
    for (const Outcome* o : {&file, &sim, &plan}) {
      CAPTURE(o->err);
      CHECK_MESSAGE(o->code == 2, key);
      CHECK(std::count(o->err.begin(), o->err.end(), '\n') == 1);
    }
    const std::string expected = ": " + key + ": expected " + hpsim::planner::field_expectation(f) + ", got '" + bad + "'\n";
    CHECK(from_field(file.err, key) == expected);
    CHECK(from_field(sim.err, key) == expected);
    CHECK(from_field(plan.err, key) == expected);
  }
}

TEST_CASE("plan, model and cluster keys: docs/*_keys.md are the tables hpsim keys prints (regenerate with scripts/gen_docs.sh)") {
  const Outcome keys = hpsim_test::hpsim("keys --format md");
  REQUIRE(keys.code == 0);
  for (const auto& f : plan_field_table()) CHECK(keys.out.find("| " + std::string(f.key) + " | ") != std::string::npos);
  const std::string doc = slurp(std::string(HPSIM_SOURCE_DIR) + "/docs/plan_keys.md");
  CHECK_MESSAGE(doc.find(keys.out) != std::string::npos, "docs/plan_keys.md is stale: run scripts/gen_docs.sh");
  const Outcome model_keys = hpsim_test::hpsim("keys --model --format md");
  REQUIRE(model_keys.code == 0);
  CHECK(model_keys.out.find("| num_key_value_heads | ") != std::string::npos);
  const std::string model_doc = slurp(std::string(HPSIM_SOURCE_DIR) + "/docs/model_keys.md");
  CHECK_MESSAGE(model_doc.find(model_keys.out) != std::string::npos, "docs/model_keys.md is stale: run scripts/gen_docs.sh");
  const Outcome cluster_keys = hpsim_test::hpsim("keys --cluster --format md");
  REQUIRE(cluster_keys.code == 0);
  for (const auto& f : hpsim::topologies::cluster_field_table())
    CHECK(cluster_keys.out.find("| " + hpsim::topologies::cluster_field_path(f) + " | ") != std::string::npos);
  const std::string cluster_doc = slurp(std::string(HPSIM_SOURCE_DIR) + "/docs/cluster_keys.md");
  CHECK_MESSAGE(cluster_doc.find(cluster_keys.out) != std::string::npos,
                "docs/cluster_keys.md is stale: run scripts/gen_docs.sh");
}
