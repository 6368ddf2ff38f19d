// The plan field table: every key declared once, read and written by the same code, round-tripping exactly.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "core/error.hpp"
#include "core/fields.hpp"
#include "planner/plan_fields.hpp"
#include "planner/search_space.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

/// A plan whose every field differs from its default where the rules allow it.
Plan non_default_plan() {
  Plan p;
  p.tp = 2, p.pp = 2, p.dp = 4, p.cp = 2, p.ep = 2, p.vpp = 2, p.sp = true, p.micro_batch_size = 2;
  p.global_batch_size = 64, p.seq_length = 2048, p.recompute = models::Recompute::selective, p.zero = 1;
  p.precision = topologies::Precision::fp16, p.schedule = Schedule::gpipe, p.tp_comm_overlap = true;
  p.cp_comm_overlap = false, p.overlap_grad_reduce = false, p.overlap_param_gather = false;
  p.flash_attention = false, p.parameter_servers = 3;
  p.decoder_first_pipeline_num_layers = 4, p.decoder_last_pipeline_num_layers = 6;  // not a valid split: not checked
  p.account_for_embedding_in_pipeline_split = true, p.account_for_loss_in_pipeline_split = true;
  p.fp8_recipe = costs::Fp8Recipe::rowwise, p.attention_backend = costs::AttentionKernel::flash3;
  p.execution = costs::Execution::eager;
  p.framework = Framework::deepspeed;
  p.expert_tensor_parallel_size = 1, p.moe_expert_capacity_factor = 1.25, p.moe_pad_expert_input_to_capacity = true;
  p.moe_grouped_gemm = false, p.moe_token_dispatcher = MoeDispatcher::allgather, p.moe_load_imbalance = 1.5;
  p.fp8_param_gather = true;
  p.grad_dtype = StateDtype::bf16, p.optimizer_dtype = StateDtype::bf16;
  return p;
}

}  // namespace

TEST_CASE("plan fields: one row per Plan field, in PlanKey order, with unique keys and flags") {
  std::set<std::string> keys, flags;
  for (std::size_t i = 0; i < kPlanKeyCount; ++i) {
    const auto& f = plan_field_table()[i];
    CHECK(static_cast<std::size_t>(f.id) == i);
    CHECK(keys.insert(std::string(f.key)).second);
    CHECK(flags.insert(std::string(f.flag)).second);
    CHECK(find_plan_field(f.key) == &f);
    CHECK(find_plan_field(f.flag) == &f);
    CHECK_FALSE(f.help.empty());
  }
  // Every field is reachable: a plan differing from the default in every field differs in every code.
  const Plan given = non_default_plan();
  Plan defaults;
  for (const auto& f : plan_field_table()) f.set(defaults, f.default_code);
  for (const auto& f : plan_field_table()) CHECK_MESSAGE(f.get(given) != f.get(defaults), f.key);
}

TEST_CASE("plan fields: a plan file round-trips exactly: plan -> file -> plan") {
  const Plan p = non_default_plan();
  const YAML::Node node = YAML::Load(YAML::Dump(plan_to_node(p)));  // through text, as a file would be
  const Plan back = plan_from_fields(core::Fields(node, "plan.yaml: plan"));
  for (const auto& f : plan_field_table()) CHECK_MESSAGE(f.get(back) == f.get(p), f.key);
  CHECK(YAML::Dump(plan_to_node(back)) == YAML::Dump(plan_to_node(p)));
}

TEST_CASE("plan fields: each value's text parses back to it") {
  for (const auto& f : plan_field_table()) {
    std::vector<std::int64_t> codes = {f.default_code, f.min};
    if (f.type == FieldType::integer || f.type == FieldType::number)
      codes.push_back(f.min + 7 <= f.max ? f.min + 7 : f.max);
    else
      for (std::int64_t c = 0; c <= f.max; ++c) codes.push_back(c);
    for (const auto c : codes) {
      if (c < f.min || c > f.max) continue;  // e.g. dp's default 0 means "derived", never written as 0
      CHECK_MESSAGE(parse_field_value(f, field_value_text(f, c), "test") == c, f.key);
    }
  }
}

TEST_CASE("plan fields: a printed plan names its recompute mode as the plan file spells it") {
  // The one-line plan of `simulate`, `plan` and the HTML report used to print op_selective as "none".
  for (const auto r : {models::Recompute::none, models::Recompute::selective, models::Recompute::full,
                       models::Recompute::op_selective}) {
    Plan p;
    p.recompute = r;
    CHECK(to_string(r) == plan_to_node(p)["recompute"].as<std::string>());
  }
}

TEST_CASE("plan fields: bad values, unknown and missing keys name the field and what was expected") {
  auto error_of = [](const std::string& yaml) -> std::string {
    try {
      plan_from_fields(core::Fields(YAML::Load(yaml), "p.yaml"));
    } catch (const core::InputError& e) {
      return e.what();
    }
    return "";
  };
  CHECK(error_of("{global_batch_size: 8, tp: x}") == "p.yaml: tp: expected a positive integer, got 'x'");
  CHECK(error_of("{global_batch_size: 8, tp: 0}") == "p.yaml: tp: expected a positive integer, got '0'");
  CHECK(error_of("{global_batch_size: 8, zero: 4}") == "p.yaml: zero: expected an integer from 0 to 3, got '4'");
  CHECK(error_of("{global_batch_size: 8, sp: maybe}") == "p.yaml: sp: expected true or false, got 'maybe'");
  CHECK(error_of("{global_batch_size: 8, recompute: some}") ==
        "p.yaml: recompute: expected none, selective, full or op_selective, got 'some'");
  CHECK(error_of("{global_batch_size: 8, tp: [2]}") == "p.yaml: tp: expected a positive integer");
  CHECK(error_of("{global_batch_size: 8, tpp: 2}").rfind("p.yaml: tpp: unknown plan key (known: tp, pp, dp,", 0) == 0);
  CHECK(error_of("{tp: 2}") == "p.yaml: global_batch_size: missing (required: sequences per optimizer step)");
  // Integral numbers as JSON writers print them are integers; fractions are not.
  CHECK(error_of("{global_batch_size: 1.536e3}").empty());
  CHECK(error_of("{global_batch_size: 8.5}") == "p.yaml: global_batch_size: expected a positive integer, got '8.5'");
  CHECK(error_of("{global_batch_size: 8, schedule: interleaved}").empty());  // the alias of 1f1b
}

TEST_CASE("plan fields: the search space starts from the table: fixed fields at their defaults, axes free or at "
          "their search defaults") {
  const SearchSpace s;
  for (const auto& f : plan_field_table()) {
    if (!f.searched) {
      CHECK_MESSAGE(f.get(s.fixed) == f.default_code, f.key);
      continue;
    }
    const IntChoice& axis = s.axis(f.id);
    if (f.search_default.empty()) {
      CHECK_MESSAGE(axis.values.empty(), f.key);
      CHECK(axis.allows(f.min));
    } else {
      CHECK_MESSAGE(axis.allows(f.default_code), f.key);
    }
  }
  CHECK(s.axis(PlanKey::zero).allows(0));
  CHECK(s.axis(PlanKey::zero).allows(3));
  CHECK_FALSE(s.axis(PlanKey::schedule).allows(0));  // gpipe only when asked for
  const auto both = parse_field_domain(plan_field(PlanKey::sp), "both", "test");
  CHECK(both.values == std::vector<std::int64_t>{0, 1});
  const auto range = parse_field_domain(plan_field(PlanKey::pp), "4..16", "test");
  CHECK(range.allows(4));
  CHECK(range.allows(16));
  CHECK_FALSE(range.allows(32));
  CHECK_THROWS_AS(parse_field_domain(plan_field(PlanKey::pp), "16..4", "test"), core::InputError);
  CHECK(parse_field_domain(plan_field(PlanKey::recompute), "full,none", "test").values ==
        std::vector<std::int64_t>{2, 0});
}
