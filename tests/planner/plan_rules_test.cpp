// The plan's rules: one minimal plan per rule that breaks exactly that rule, checked by the rule check_plan returns
// and the field explain names; and plan files' own field errors, by the field the error names.
#include <doctest/doctest.h>

#include <set>

#include "core/error.hpp"
#include "planner/plan.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

Plan parse(const std::string& yaml) {
  const core::Fields f(core::parse_yaml_text(yaml, "plan.yaml"), "plan.yaml");
  return plan_from_fields(f);
}

/// The plan of a rule case. A file cannot state global_batch_size 0 (it must be positive): that one is set here.
Plan plan_of(const std::string& yaml) {
  const std::string zero = "global_batch_size: 0";
  const auto at = yaml.find(zero);
  if (at == std::string::npos) return parse(yaml);
  Plan p = parse(std::string(yaml).replace(at, zero.size(), "global_batch_size: 1"));
  p.global_batch_size = 0;
  return p;
}

/// One plan breaking one rule. gpt3-175b: 96 heads, 96 KV heads, 96 layers, sequence 2048, dense. mixtral-8x7b:
/// 32 heads, 8 KV heads, 32 layers, 8 experts. dgx-a100-80gb:128 has 1024 GPUs, dgx-h100:1 has 8.
struct RuleCase {
  Rule rule;
  const char* plan;
  const char* field;  ///< what explain() must name
  const char* model = "gpt3-175b";
  const char* cluster = "dgx-a100-80gb:128";
};

const RuleCase kRuleCases[] = {
    {Rule::missing_batch, "{tp: 8, pp: 8, global_batch_size: 0}", "global_batch_size"},  // 0: unset (Plan's default)
    {Rule::gpus_by_model_parallel, "{tp: 8, pp: 6, global_batch_size: 1536}", "dp"},      // 1024 % 48 != 0
    {Rule::too_many_gpus, "{tp: 8, pp: 8, dp: 32, global_batch_size: 1536}", "dp"},       // 2048 GPUs > 1024
    {Rule::heads_by_tp, "{tp: 5, dp: 1, global_batch_size: 64}", "tp"},                   // 96 % 5
    {Rule::kv_heads_by_tp, "{tp: 16, dp: 1, global_batch_size: 64}", "tp", "mixtral-8x7b"},  // 32 % 16 == 0, 8 % 16
    // 96 layers over pp*vpp = 10: 97 and 98 slots do not divide by 10, 96 not by vpp 5 (no split Megatron allows).
    {Rule::layers_by_pp_vpp, "{tp: 8, pp: 2, vpp: 5, dp: 1, global_batch_size: 64}", "vpp"},
    {Rule::batch_by_mbs_dp, "{tp: 8, pp: 8, global_batch_size: 1000}", "global_batch_size"},  // dp 16
    {Rule::seq_by_cp, "{tp: 8, pp: 8, cp: 3, dp: 1, global_batch_size: 64}", "cp"},       // 2048 % 3
    {Rule::ep_needs_moe, "{tp: 8, pp: 8, dp: 16, ep: 2, global_batch_size: 1536}", "ep"},
    {Rule::experts_by_ep, "{tp: 1, ep: 3, global_batch_size: 64}", "ep", "mixtral-8x7b", "dgx-h100:1"},  // 8 % 3
    {Rule::expert_grid_by_gpus, "{tp: 2, ep: 8, global_batch_size: 64}", "ep", "mixtral-8x7b", "dgx-h100:1"},  // 8 % (etp 2 * ep 8)
    {Rule::vpp_needs_pp, "{tp: 8, pp: 1, vpp: 2, dp: 1, global_batch_size: 64}", "vpp"},
    {Rule::gpipe_interleaved, "{tp: 8, pp: 8, vpp: 2, dp: 16, global_batch_size: 1536, schedule: gpipe}", "schedule"},
    {Rule::micro_batches_by_pp, "{tp: 8, pp: 8, vpp: 2, dp: 16, global_batch_size: 16}", "vpp"},  // 1 micro-batch
    {Rule::too_many_servers, "{tp: 8, pp: 8, dp: 16, global_batch_size: 1536, parameter_servers: 17}",
     "parameter_servers"},
    {Rule::servers_with_zero, "{tp: 8, pp: 8, dp: 16, global_batch_size: 1536, parameter_servers: 2, zero: 1}",
     "parameter_servers"},
    {Rule::sp_seq_by_tp, "{tp: 8, pp: 8, dp: 16, global_batch_size: 1536, sp: true, seq_length: 2044}", "sp"},  // 2044 % 8
    {Rule::tp_overlap_needs_sp, "{tp: 8, pp: 8, dp: 16, global_batch_size: 1536, tp_comm_overlap: true}",
     "tp_comm_overlap"},  // sp off
    // Megatron-LM's uneven split (megatron/core/transformer/transformer_config.py).
    {Rule::split_keys_exclusive,
     "{tp: 8, pp: 8, dp: 16, global_batch_size: 1536, decoder_first_pipeline_num_layers: 12, "
     "account_for_loss_in_pipeline_split: true}",
     "decoder_first_pipeline_num_layers"},
    {Rule::split_needs_pp, "{tp: 8, pp: 1, dp: 1, global_batch_size: 64, decoder_last_pipeline_num_layers: 96}",
     "decoder_last_pipeline_num_layers"},
    {Rule::split_stage_by_vpp,  // 96 - 12 - 11 = 73 would not split over 6 middle stages either: vpp is checked first
     "{tp: 8, pp: 8, vpp: 2, dp: 16, global_batch_size: 1536, decoder_first_pipeline_num_layers: 12, "
     "decoder_last_pipeline_num_layers: 11}",
     "decoder_last_pipeline_num_layers"},
    {Rule::split_middle_layers,  // 96 - 11 = 85 layers over 7 stages
     "{tp: 8, pp: 8, dp: 16, global_batch_size: 1536, decoder_first_pipeline_num_layers: 11}",
     "decoder_first_pipeline_num_layers"},
    {Rule::split_slots_by_pp_vpp,  // 96 + 1 slots over 8 stages
     "{tp: 8, pp: 8, dp: 16, global_batch_size: 1536, account_for_embedding_in_pipeline_split: true}",
     "account_for_embedding_in_pipeline_split"},
    // What the framework running the plan cannot run (planner/framework.hpp).
    {Rule::framework_zero, "{tp: 8, pp: 8, global_batch_size: 1536, zero: 2}", "zero"},  // megatron: no ZeRO-2
    {Rule::framework_interleaved, "{tp: 8, pp: 8, vpp: 2, global_batch_size: 1536, framework: deepspeed}", "vpp"},
    {Rule::framework_cp, "{tp: 8, pp: 8, cp: 2, global_batch_size: 1536, framework: deepspeed}", "cp"},
    {Rule::framework_zero_with_pp, "{tp: 8, pp: 8, global_batch_size: 1536, zero: 3, framework: deepspeed}", "zero"},
    {Rule::framework_fp8_recipe, "{tp: 8, pp: 8, global_batch_size: 1536, precision: fp8, fp8_recipe: rowwise}",
     "fp8_recipe"},  // not among Megatron-LM's --fp8-recipe choices
    {Rule::framework_fp8_param_gather, "{tp: 8, pp: 8, global_batch_size: 1536, fp8_param_gather: true}",
     "fp8_param_gather"},  // bf16: no FP8 weights to gather
};

}  // namespace

TEST_CASE("plan: dp is derived from the cluster and seq_length from the model") {
  Plan p = parse("{tp: 8, pp: 8, global_batch_size: 1536}");
  CHECK(check_plan(p, models::load_model("gpt3-175b"), topologies::load_cluster("dgx-a100-80gb:128")) == Rule::ok);
  CHECK(p.dp == 16);  // 1024 GPUs / (tp 8 * pp 8)
  CHECK(p.seq_length == 2048);
  CHECK(p.micro_batches() == 96);  // 1536 / (1 * 16)
}

TEST_CASE("plan: each rule, broken alone, is the rule check_plan returns and explain names its field") {
  for (const RuleCase& c : kRuleCases) {
    const std::string name(rule_name(c.rule));
    SUBCASE(name.c_str()) {
      CAPTURE(c.plan);
      const auto model = models::load_model(c.model);
      const auto cluster = topologies::load_cluster(c.cluster);
      Plan p = plan_of(c.plan);
      const Rule got = check_plan(p, model, cluster);
      CHECK(rule_name(got) == rule_name(c.rule));
      const RuleBreach b = explain(c.rule, p, model, cluster);
      CHECK(b.field == c.field);
      CHECK_FALSE(b.message.empty());
      // resolve_plan says the same, naming the file and the field.
      try {
        (void)resolve_plan(plan_of(c.plan), model, cluster, "plan.yaml");
        FAIL("accepted a plan that breaks " << name);
      } catch (const core::InputError& e) {
        CHECK(e.where() == "plan.yaml");
        CHECK(e.field() == c.field);
      }
    }
  }
}

TEST_CASE("plan: the rule cases cover every rule once, but four tested beside the inputs they need") {
  // A mixed cluster's (tests/planner/mixed_cluster_test.cpp) and the state dtypes' (tests/planner/framework_test.cpp).
  const std::set<Rule> elsewhere = {Rule::pipeline_layers_shape, Rule::stage_straddles_node_groups,
                                    Rule::grad_dtype_precision, Rule::framework_optimizer_dtype};
  std::set<Rule> covered;
  for (const RuleCase& c : kRuleCases) CHECK_MESSAGE(covered.insert(c.rule).second, rule_name(c.rule));
  CHECK(covered.count(Rule::ok) == 0);
  // Every rule from the first to the last of the enum (framework_optimizer_dtype), once.
  for (int r = static_cast<int>(Rule::missing_batch); r <= static_cast<int>(Rule::framework_optimizer_dtype); ++r) {
    const auto rule = static_cast<Rule>(r);
    CHECK_MESSAGE(covered.count(rule) + elsewhere.count(rule) == 1, rule_name(rule));
  }
  CHECK(covered.size() + elsewhere.size() == static_cast<std::size_t>(Rule::framework_optimizer_dtype));
}

TEST_CASE("plan: a plan keeping every rule is ok, on a dense and on an MoE model") {
  Plan dense = parse("{tp: 8, pp: 8, vpp: 2, dp: 16, global_batch_size: 1536, sp: true}");
  CHECK(check_plan(dense, models::load_model("gpt3-175b"), topologies::load_cluster("dgx-a100-80gb:128")) == Rule::ok);
  Plan moe = parse("{tp: 2, ep: 4, global_batch_size: 64}");
  CHECK(check_plan(moe, models::load_model("mixtral-8x7b"), topologies::load_cluster("dgx-h100:1")) == Rule::ok);
  CHECK(moe.dp == 4);
}

TEST_CASE("plan: a field a plan file cannot hold is an input error naming that field") {
  struct Bad {
    const char* yaml;
    const char* field;
  };
  for (const Bad& b : {Bad{"{tp: 8, zero: 4, global_batch_size: 64}", "zero"},
                       Bad{"{tp: 8, recompute: sometimes, global_batch_size: 64}", "recompute"},
                       Bad{"{tp: -2, global_batch_size: 64}", "tp"},
                       Bad{"{tp: eight, global_batch_size: 64}", "tp"},
                       Bad{"{tp: 8}", "global_batch_size"},
                       Bad{"{tp: 8, tensor_parallel: 2, global_batch_size: 64}", "tensor_parallel"}}) {
    CAPTURE(b.yaml);
    try {
      (void)parse(b.yaml);
      FAIL("accepted a bad plan file");
    } catch (const core::InputError& e) {
      CHECK(e.where() == "plan.yaml");
      CHECK(e.field() == b.field);
    }
  }
}
