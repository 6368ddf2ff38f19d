// `hpsim plan --emit megatron|deepspeed|torchtitan`: every name the emitters write, for every built-in example
// (the plan command's own example and the example plan files) under every framework that can run it, is a flag or
// config key of that framework as its source declares it (apps/framework_flags/*.txt, with source and version).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "apps/framework_emit.hpp"
#include "apps/plan_emit.hpp"
#include "core/fields.hpp"
#include "planner/framework.hpp"
#include "planner/plan_file.hpp"
#include "run_hpsim.hpp"

using namespace hpsim;
using namespace hpsim_test;
using nlohmann::json;

namespace {

std::set<std::string> known_names(const std::string& framework) {
  std::set<std::string> names;
  std::istringstream in(slurp(std::string(HPSIM_SOURCE_DIR) + "/apps/framework_flags/" + framework + ".txt"));
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') names.insert(line);
  return names;
}

/// The flags of a command line ("--tp 8 --bf16" -> --tp, --bf16).
std::vector<std::string> flags_of(const std::string& args) {
  std::vector<std::string> out;
  std::istringstream in(args);
  for (std::string token; in >> token;)
    if (token.rfind("--", 0) == 0) out.push_back(token);
  return out;
}

/// Every key of a JSON object as a dotted path ("zero_optimization.stage").
void keys_of(const json& j, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& [key, value] : j.items()) {
    out.push_back(prefix + key);
    if (value.is_object()) keys_of(value, prefix + key + ".", out);
  }
}

/// Every key of a TOML text as section.key.
std::vector<std::string> toml_keys(const std::string& toml) {
  std::vector<std::string> out;
  std::istringstream in(toml);
  std::string section;
  const std::regex header(R"(^\[(\w+)\]$)"), entry(R"(^(\w+) = .+$)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, header)) section = m[1];
    else if (std::regex_match(line, m, entry)) out.push_back(section + "." + std::string(m[1]));
    else CHECK_MESSAGE(line.empty(), "not a TOML line: " << line);
  }
  return out;
}

/// The names one framework's emitter writes for a resolved plan.
std::vector<std::string> emitted(planner::Framework f, const planner::Plan& p, const models::ModelSpec& model) {
  switch (f) {
    case planner::Framework::megatron: return flags_of(apps::megatron_arguments(p, model));
    case planner::Framework::deepspeed: {
      std::vector<std::string> names = flags_of(apps::megatron_deepspeed_arguments(p));
      keys_of(apps::deepspeed_config(p), "", names);
      return names;
    }
    case planner::Framework::fsdp: return toml_keys(apps::torchtitan_toml(p, model));
  }
  return {};
}

const char* list_name(planner::Framework f) { return f == planner::Framework::fsdp ? "torchtitan" : planner::to_string(f).data(); }

void check_names(planner::Framework f, const std::vector<std::string>& names, const std::string& what) {
  const auto known = known_names(list_name(f));
  REQUIRE(known.size() > 10);
  CHECK_FALSE(names.empty());
  for (const auto& n : names) CHECK_MESSAGE(known.count(n) == 1, what << ": " << n << " is not a " << list_name(f) << " name");
}

}  // namespace

TEST_CASE("emit: every example plan file's emitted names are its framework's, for every framework that runs it") {
  const planner::Framework frameworks[] = {planner::Framework::megatron, planner::Framework::deepspeed,
                                           planner::Framework::fsdp};
  std::map<planner::Framework, int> emitted_plans;
  for (const char* folder : {"examples/plans", "examples/run"}) {
    for (const auto& entry : std::filesystem::directory_iterator(std::string(HPSIM_SOURCE_DIR) + "/" + folder)) {
      const std::string path = entry.path().string();
      // localhost is this machine's calibration; a preset stands in for it.
      const auto file = planner::load_plan_file(path, [](const std::string& n) {
        return n == "localhost" ? std::string("dgx-h100") : n;
      });
      for (const auto f : frameworks) {
        YAML::Node node = core::load_yaml_file(path)["plan"];
        node["framework"] = std::string(planner::to_string(f));
        planner::Plan p = planner::plan_from_fields(core::Fields(node, path));
        if (planner::check_plan(p, file.model, file.cluster) != planner::Rule::ok) continue;
        check_names(f, emitted(f, p, file.model), path);
        ++emitted_plans[f];
      }
    }
  }
  for (const auto f : frameworks) CHECK_MESSAGE(emitted_plans[f] >= 5, list_name(f));
}

TEST_CASE("emit: 16-bit gradients and optimizer states in each framework's own names") {
  const auto model = models::load_model("llama3-8b");
  const auto cluster = topologies::load_cluster("dgx-h100:1");
  for (const auto f : {planner::Framework::megatron, planner::Framework::deepspeed, planner::Framework::fsdp}) {
    YAML::Node node = core::parse_yaml_text("{dp: 8, global_batch_size: 16, zero: 0, grad_dtype: bf16}", "plan.yaml");
    node["framework"] = std::string(planner::to_string(f));
    if (f == planner::Framework::megatron) node["optimizer_dtype"] = "bf16";
    planner::Plan p = planner::plan_from_fields(core::Fields(node, "plan.yaml"));
    REQUIRE(planner::check_plan(p, model, cluster) == planner::Rule::ok);
    const auto names = emitted(f, p, model);
    check_names(f, names, list_name(f));
    const char* expected = f == planner::Framework::megatron    ? "--grad-reduce-in-bf16"
                           : f == planner::Framework::deepspeed ? "communication_data_type"
                                                                : "training.mixed_precision_reduce";
    CHECK_MESSAGE(std::find(names.begin(), names.end(), expected) != names.end(), list_name(f));
  }
  const auto megatron = apps::megatron_arguments(
      planner::plan_from_fields(core::Fields(
          core::parse_yaml_text("{global_batch_size: 16, optimizer_dtype: bf16}", "plan.yaml"), "plan.yaml")),
      model);
  CHECK(megatron.find("--use-precision-aware-optimizer --main-params-dtype fp16 --exp-avg-dtype bf16") !=
        std::string::npos);
}

TEST_CASE("emit: the plan command's built-in example, searched for each framework, emits that framework's names") {
  {
    const Outcome o = hpsim_test::hpsim("plan --top 1 --framework megatron --emit megatron --format json");
    REQUIRE(o.code == 0);
    const json j = json::parse(o.out);
    CHECK(j["plans"][0]["plan"]["zero"].get<int>() <= 1);  // megatron's search: no ZeRO-2/3
    check_names(planner::Framework::megatron, flags_of(j["megatron_args"].get<std::string>()), "built-in example");
  }
  {
    const Outcome o = hpsim_test::hpsim("plan --top 1 --framework deepspeed --emit deepspeed --format json");
    REQUIRE(o.code == 0);
    const json j = json::parse(o.out);
    std::vector<std::string> names = flags_of(j["deepspeed_args"].get<std::string>());
    keys_of(j["deepspeed_config"], "", names);
    check_names(planner::Framework::deepspeed, names, "built-in example");
    const json& plan = j["plans"][0]["plan"];
    CHECK(j["deepspeed_config"]["zero_optimization"]["stage"] == plan["zero"]);
    CHECK(j["deepspeed_config"]["train_batch_size"] == 512);
  }
  {
    const Outcome o = hpsim_test::hpsim("plan --top 1 --framework torchtitan --emit torchtitan --format json");
    REQUIRE(o.code == 0);
    const json j = json::parse(o.out);
    check_names(planner::Framework::fsdp, toml_keys(j["torchtitan_toml"].get<std::string>()), "built-in example");
    CHECK(j["plans"][0]["plan"]["framework"] == "fsdp");
    CHECK(j["plans"][0]["plan"]["attention_backend"] == "flash2");
  }
}

TEST_CASE("emit: a framework's arguments only for plans searched for it; a plan it cannot run is refused by name") {
  expect_input_error("plan --model llama3-8b --cluster dgx-h100:1 --global-batch-size 8 --emit deepspeed",
                     "--framework deepspeed");
  // Pinned to ZeRO-3 with no framework, the search runs under fsdp: Megatron's arguments would describe another run.
  expect_input_error("plan --model llama3-8b --cluster dgx-h100:1 --global-batch-size 8 --zero 3 --emit megatron",
                     "--framework megatron");
  expect_input_error("simulate --model llama3-8b --cluster dgx-h100:1 --global-batch-size 8 --zero 2", "megatron");
  expect_input_error("simulate --model llama3-8b --cluster dgx-h100:1 --global-batch-size 8 --zero 1 --framework fsdp",
                     "fsdp");
  expect_input_error("simulate --model llama3-8b --cluster dgx-h100:1 --global-batch-size 8 --framework jax",
                     "framework");
}

TEST_CASE("emit: the torchtitan TOML of a hand-checked plan") {
  planner::Plan p;
  p.tp = 2, p.pp = 2, p.vpp = 2, p.dp = 2, p.micro_batch_size = 1, p.global_batch_size = 8, p.seq_length = 8192;
  p.zero = 3, p.recompute = models::Recompute::op_selective, p.precision = topologies::Precision::fp8;
  p.fp8_recipe = costs::Fp8Recipe::tensorwise, p.execution = costs::Execution::eager, p.framework = planner::Framework::fsdp;
  const auto model = models::load_model("llama3-8b");  // 32 layers: 8 per virtual stage
  const std::string toml = apps::torchtitan_toml(p, model);
  CAPTURE(toml);
  CHECK(toml.find("local_batch_size = 4\n") != std::string::npos);  // 8 / dp 2: 4 micro-batches of 1
  CHECK(toml.find("pipeline_parallel_microbatch_size = 1\n") != std::string::npos);
  CHECK(toml.find("pipeline_parallel_schedule = \"Interleaved1F1B\"\n") != std::string::npos);
  CHECK(toml.find("pipeline_parallel_split_points = [\"layers.8\", \"layers.16\", \"layers.24\"]\n") != std::string::npos);
  CHECK(toml.find("data_parallel_shard_degree = 2\n") != std::string::npos);
  CHECK(toml.find("selective_ac_option = \"op\"\n") != std::string::npos);
  CHECK(toml.find("compile = false\n") != std::string::npos);
  CHECK(toml.find("converters = [\"float8\"]\n") != std::string::npos);
  const json ds = apps::deepspeed_config(p);
  CHECK(ds["gradient_accumulation_steps"] == 4);  // 8 / (1 * 2)
  CHECK(ds["bf16"]["enabled"] == true);
}
