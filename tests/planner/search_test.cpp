#include <doctest/doctest.h>

#include <tuple>
#include <utility>

#include "core/error.hpp"
#include "planner/cost_cache.hpp"
#include "planner/memory_model.hpp"
#include "planner/pipeline_bound.hpp"
#include "planner/pipeline_split.hpp"
#include "planner/plan_fields.hpp"
#include "planner/search.hpp"
#include "planner/step_costs.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

SearchSpace space_with_batch(std::int64_t gbs) {
  SearchSpace s;
  s.fixed.global_batch_size = gbs;
  return s;
}

/// The fields of a plan the search chooses.
auto chosen_fields(const Plan& p) {
  return std::tuple(p.tp, p.pp, p.dp, p.cp, p.ep, p.expert_tp(), p.vpp, p.sp, p.micro_batch_size, p.recompute, p.zero, p.schedule,
                    p.flash_attention, p.decoder_first_pipeline_num_layers, p.decoder_last_pipeline_num_layers,
                    p.account_for_embedding_in_pipeline_split, p.account_for_loss_in_pipeline_split);
}

/// Same plans (every field the search chooses), in the same order, with the same step times to the bit.
void check_same(const SearchResult& a, const SearchResult& b) {
  REQUIRE(a.plans.size() == b.plans.size());
  for (std::size_t i = 0; i < a.plans.size(); ++i) {
    CAPTURE(i);
    CHECK(a.plans[i].step_time.value() == b.plans[i].step_time.value());
    CHECK(chosen_fields(a.plans[i].plan) == chosen_fields(b.plans[i].plan));
  }
}

}  // namespace

TEST_CASE("search: branch and bound returns exactly what brute force returns") {
  struct Case {
    const char* model;
    const char* cluster;
    std::int64_t gbs, seq;
  };
  for (const Case& c : {Case{"gpt-1.7b", "dgx-a100-80gb:2", 64, 0}, Case{"llama2-7b", "dgx-h100:2", 32, 2048},
                        Case{"gpt-7.5b", "dgx-a100-40gb:4", 128, 0}}) {
    CAPTURE(c.model);
    SearchSpace s = space_with_batch(c.gbs);
    s.fixed.seq_length = c.seq;
    SearchOptions pruned, brute;
    pruned.top_k = brute.top_k = 8;
    brute.prune = false;
    const auto m = models::load_model(c.model);
    const auto cl = topologies::load_cluster(c.cluster);
    const auto a = search_plans(Scenario(m, cl), s, pruned);
    const auto b = search_plans(Scenario(m, cl), s, brute);
    CHECK(b.simulated == b.feasible);
    CHECK(a.simulated <= b.simulated);
    CHECK(a.candidates == b.candidates);
    check_same(a, b);
  }
}

TEST_CASE("search: pp not dividing the layers is searched with the balanced split, pruned as brute force") {
  auto m = models::load_model("gpt-1.7b");
  m.num_layers = 26;  // only pp 1 and 2 divide it on 16 GPUs
  const auto cl = topologies::load_cluster("dgx-a100-80gb:2");
  SearchOptions pruned, brute;
  pruned.top_k = brute.top_k = 50;
  brute.prune = false;
  SearchSpace s = space_with_batch(64);
  s.axis(PlanKey::pp).values = {4, 8};
  const auto a = search_plans(Scenario(m, cl), s, pruned);
  const auto b = search_plans(Scenario(m, cl), s, brute);
  check_same(a, b);
  REQUIRE_FALSE(a.plans.empty());
  for (const auto& r : a.plans) {
    CAPTURE(plan_summary_text(r.plan));
    CHECK(split_keys_given(r.plan));
    CHECK(check_pipeline_split(r.plan, 26) == Rule::ok);
    std::int64_t layers = 0;
    for (const auto n : r.layers_per_virtual_stage) layers += n;
    CHECK(layers == 26);
  }
  // Each (pp, vpp) gets one split, the balanced one: no plan appears twice with another split.
  for (std::size_t i = 0; i < b.plans.size(); ++i)
    for (std::size_t j = i + 1; j < b.plans.size(); ++j) {
      Plan x = b.plans[i].plan, y = b.plans[j].plan;
      for (Plan* p : {&x, &y}) {
        p->decoder_first_pipeline_num_layers = p->decoder_last_pipeline_num_layers = 0;
        p->account_for_embedding_in_pipeline_split = p->account_for_loss_in_pipeline_split = false;
      }
      CHECK(plan_summary_text(x) + to_string(x.precision) != plan_summary_text(y) + to_string(y.precision));
    }
}

TEST_CASE("search: the lower bound never exceeds the simulated step time") {
  const auto m = models::load_model("gpt-1.7b");
  const auto cl = topologies::load_cluster("dgx-a100-80gb:2");
  SearchOptions all;
  all.prune = false;
  all.top_k = 100000;
  const auto r = search_plans(Scenario(m, cl), space_with_batch(64), all);
  CostCache cache(Scenario(m, cl));
  REQUIRE(r.plans.size() > 50);
  for (const auto& p : r.plans) {
    const double bound = step_time_lower_bound_s(compute_step_costs(cache, p.plan), p.plan);
    CHECK(bound <= p.step_time.value() * (1 + 1e-9));
    // The enumeration's bound, without pipeline sends, is lower still; branch and bound's, with them, the same.
    const double without_sends = step_time_lower_bound_s(compute_step_costs(cache, p.plan, CostScope::chunks), p.plan);
    CHECK(without_sends <= bound * (1 + 1e-12));
    CHECK(step_time_lower_bound_s(compute_step_costs(cache, p.plan, CostScope::pipeline), p.plan) == bound);
  }
}

namespace {

/// A search space: a model, a cluster and a global batch.
struct Space {
  const char* model;
  const char* cluster;
  std::int64_t batch;
};

/// Every feasible plan of a space, simulated (no pruning), and the scenario it was searched on.
struct EveryPlan {
  Scenario scenario;
  SearchResult result;
};
EveryPlan every_feasible_plan(const Space& space) {
  SearchOptions all;
  all.prune = false;
  all.top_k = 100000;
  Scenario scenario(models::load_model(space.model), topologies::load_cluster(space.cluster));
  SearchResult result = search_plans(scenario, space_with_batch(space.batch), all);
  return {std::move(scenario), std::move(result)};
}

}  // namespace

TEST_CASE("search: the schedule-walking bound never exceeds the simulated step; without data parallelism it is it") {
  for (const Space& space : {Space{"gpt-1.7b", "dgx-a100-80gb:2", 64}, Space{"llama3-8b", "dgx-h100:2", 32}}) {
    CAPTURE(std::string(space.model));
    const auto [scenario, r] = every_feasible_plan(space);
    CostCache cache(scenario);
    REQUIRE(r.plans.size() > 50);
    int without_dp = 0, start_gathers = 0;
    for (const auto& p : r.plans) {
      CAPTURE(plan_summary_text(p.plan));
      const double bound = pipeline_step_lower_bound_s(compute_step_costs(cache, p.plan), p.plan);
      CHECK(bound <= p.step_time.value());
      // The closed form sees neither the schedule's stalls nor the data-parallel work: it is no tighter (to the
      // walk's rounding margin).
      CHECK(step_time_lower_bound_s(compute_step_costs(cache, p.plan), p.plan) <= bound + 1e-6);
      if (p.plan.dp * p.plan.cp == 1) {
        ++without_dp;  // nothing left out: the walk is the simulation, to its rounding margin of nanoseconds
        CHECK(p.step_time.value() - bound < 1e-9);
      }
      if (p.plan.zero == 1 && p.plan.dp > 1 && p.plan.overlap_param_gather) ++start_gathers;
    }
    CHECK(without_dp > 0);
    CHECK(start_gathers > 0);
  }
}

TEST_CASE("memory: the fullest stage is the one a scan of every stage finds") {
  for (const Space& space : {Space{"gpt-1.7b", "dgx-a100-80gb:2", 64}, Space{"gpt3-175b", "dgx-a100-80gb:16", 64}}) {
    CAPTURE(std::string(space.model));
    const auto [scenario, r] = every_feasible_plan(space);
    CostCache cache(scenario);
    REQUIRE(r.plans.size() > 20);
    for (const auto& p : r.plans) {
      CAPTURE(plan_summary_text(p.plan));
      const MemoryUse fullest = memory_use(cache, p.plan);
      MemoryUse scan = stage_memory_use(cache, p.plan, 0);
      for (std::int64_t s = 1; s < p.plan.pp; ++s) {
        const MemoryUse u = stage_memory_use(cache, p.plan, s);
        if (u.peak > scan.peak) scan = u;
      }
      CHECK(fullest.peak.value() == scan.peak.value());
      CHECK(fullest.stage == scan.stage);
    }
  }
}

TEST_CASE("search: every candidate is counted once; pins are respected; results are deterministic") {
  const auto m = models::load_model("gpt3-175b");
  const auto cl = topologies::load_cluster("dgx-a100-80gb:16");
  SearchSpace s = space_with_batch(256);
  s.fixed.precision = topologies::Precision::fp16;
  s.axis(PlanKey::tp).values = {8};
  s.axis(PlanKey::pp) = parse_field_domain(plan_field(PlanKey::pp), "4..16", "test");
  const auto a = search_plans(Scenario(m, cl), s);
  const auto b = search_plans(Scenario(m, cl), s);
  std::int64_t rejected = 0;
  for (const auto& [reason, n] : a.rejected) rejected += n;
  CHECK(a.candidates == a.feasible + rejected);
  REQUIRE_FALSE(a.plans.empty());
  for (const auto& p : a.plans) {
    CHECK(p.plan.tp == 8);
    CHECK(p.plan.pp >= 4);
    CHECK(p.plan.pp <= 16);
  }
  for (std::size_t i = 1; i < a.plans.size(); ++i) CHECK(rank_before(a.plans[i - 1], a.plans[i]));
  check_same(a, b);
  CHECK_FALSE(a.why_best.empty());
}

TEST_CASE("search: impossible constraints name the rule; nothing fitting gives the closest miss") {
  const auto gpt3 = models::load_model("gpt3-175b");
  SearchSpace s = space_with_batch(1536);
  s.axis(PlanKey::tp).values = {5};
  try {
    (void)search_plans(Scenario(gpt3, topologies::load_cluster("dgx-a100-80gb:128")), s);
    FAIL("accepted tp 5 for 96 heads");
  } catch (const core::InputError& e) {
    CHECK(std::string(e.what()).find("num_attention_heads") != std::string::npos);
  }
  try {
    (void)search_plans(Scenario(models::load_model("gpt-1t"), topologies::load_cluster("dgx-a100-80gb:1")), space_with_batch(8));
    FAIL("a 1T model fitted on 8 GPUs");
  } catch (const core::InfeasibleError& e) {
    CHECK(std::string(e.what()).find("needs") != std::string::npos);
    CHECK(std::string(e.what()).find("GiB") != std::string::npos);
  }
}

TEST_CASE("search: ranking a given plan counts the plans faster than it") {
  const auto m = models::load_model("gpt-1.7b");
  const auto cl = topologies::load_cluster("dgx-a100-80gb:2");
  SearchOptions all;
  all.prune = false;
  all.top_k = 100000;
  const auto everything = search_plans(Scenario(m, cl), space_with_batch(64), all);
  const double t = everything.plans[everything.plans.size() / 2].step_time.value();
  std::int64_t faster = 0;
  for (const auto& p : everything.plans) faster += p.step_time.value() < t;
  SearchOptions ranked;
  ranked.rank_time_s = t;
  const auto r = search_plans(Scenario(m, cl), space_with_batch(64), ranked);
  CHECK(r.faster_than_rank_time == faster);
}

TEST_CASE("search: 1, 2 and 7 threads return the same plans in the same order with the same step times") {
  struct Case {
    const char* model;
    const char* cluster;
    std::int64_t gbs;
  };
  // Small spaces and one of thousands of candidates (several parallel batches of simulations).
  for (const Case& c : {Case{"gpt-1.7b", "dgx-a100-80gb:2", 64}, Case{"llama2-7b", "dgx-h100:2", 32},
                        Case{"gpt3-175b", "dgx-a100-80gb:16", 256}}) {
    CAPTURE(c.model);
    const auto m = models::load_model(c.model);
    const auto cl = topologies::load_cluster(c.cluster);
    SearchOptions one, two, seven;
    one.top_k = two.top_k = seven.top_k = 25;
    one.threads = 1;
    two.threads = 2;
    seven.threads = 7;  // more threads than batches of some rounds, and not a divisor of anything
    const auto a = search_plans(Scenario(m, cl), space_with_batch(c.gbs), one);
    const auto b = search_plans(Scenario(m, cl), space_with_batch(c.gbs), two);
    const auto d = search_plans(Scenario(m, cl), space_with_batch(c.gbs), seven);
    REQUIRE(a.plans.size() == 25);
    check_same(a, b);
    check_same(a, d);
    CHECK(a.feasible == b.feasible);
    CHECK(a.feasible == d.feasible);
    CHECK(a.rejected == b.rejected);
    CHECK(a.rejected == d.rejected);
  }
}
