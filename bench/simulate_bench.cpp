/// End-to-end cost of predicting one training step (simulate_step) at published scales, and of its first phase
/// (compute_step_costs) alone, so the split between costing and simulation is visible.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "models/model_spec.hpp"
#include "planner/memory_model.hpp"
#include "planner/plan.hpp"
#include "planner/step_costs.hpp"
#include "planner/step_graph.hpp"
#include "planner/step_simulation.hpp"
#include "topologies/cluster_spec.hpp"
#include "sim/engine.hpp"
#include "costs/collectives.hpp"

namespace {

namespace planner = hpsim::planner;
namespace models = hpsim::models;
namespace topologies = hpsim::topologies;

/// Everything a planner would hold across many candidate plans: loading and the coster are not what we time.
struct Case {
  models::ModelSpec model;
  topologies::ClusterSpec cluster;
  planner::Scenario scenario;
  planner::Plan plan;

  Case(const std::string& model_name, const std::string& cluster_name, planner::Plan raw)
      : model(models::load_model(model_name)),
        cluster(topologies::load_cluster(cluster_name)),
        scenario(model, cluster),
        plan(planner::resolve_plan(raw, model, cluster, "bench")) {}
};

// GPT-3 175B on 1024 A100s as in Narayanan et al. 2021 (Megatron-LM, Table 1): tp 8, pp 8, dp 16.
const Case& gpt3_175b_1024_a100() {
  static const Case c = [] {
    planner::Plan p;
    p.tp = 8;
    p.pp = 8;
    p.micro_batch_size = 1;
    p.global_batch_size = 1536;
    p.recompute = models::Recompute::full;
    p.precision = topologies::Precision::fp16;
    return Case("gpt3-175b", "dgx-a100-80gb:128", p);
  }();
  return c;
}

/// Llama 3 405B at 8K sequence, bf16, selective recomputation, SP, ZeRO-1. 126 layers = 2·3²·7, so on a
/// power-of-two GPU count pp can only be 1 or 2; a deeper pipeline needs a GPU count that is a multiple of pp.
planner::Plan llama3_plan() {
  planner::Plan p;
  p.tp = 8;
  p.micro_batch_size = 1;
  p.seq_length = 8192;
  p.recompute = models::Recompute::selective;
  p.sp = true;
  p.zero = 1;
  p.precision = topologies::Precision::bf16;
  return p;
}

// All 16,384 H100s: tp 8, pp 2, dp 1024, 2048 sequences (16M tokens, Llama 3's batch). Two micro-batches.
const Case& llama3_405b_16384_h100() {
  static const Case c = [] {
    auto p = llama3_plan();
    p.pp = 2;
    p.global_batch_size = 2048;
    return Case("llama3-405b", "dgx-h100:2048", p);
  }();
  return c;
}

// A deep interleaved pipeline closer to Meta's (pp 16): tp 8, pp 9, vpp 2 (7 layers a chunk), dp 224, so
// 16,128 of the 16,384 GPUs; 2016 sequences = 9 micro-batches, a multiple of pp as interleaving requires.
const Case& llama3_405b_16128_h100_pp9() {
  static const Case c = [] {
    auto p = llama3_plan();
    p.pp = 9;
    p.vpp = 2;
    p.dp = 224;
    p.global_batch_size = 2016;
    return Case("llama3-405b", "dgx-h100:2048", p);
  }();
  return c;
}

/// Times the whole prediction: cost tables, task graph, simulation, breakdown and memory.
void simulate(benchmark::State& state, const Case& c) {
  std::uint64_t events_per_simulate = 0;
  std::size_t tasks_per_simulate = 0;
  for (auto _ : state) {
    const auto step = planner::simulate_step(c.scenario, c.plan);
    events_per_simulate = step.result.events;
    tasks_per_simulate = step.result.tasks;
    benchmark::DoNotOptimize(step.result.step_time);
  }
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["tasks"] = static_cast<double>(tasks_per_simulate);
  state.counters["events"] = static_cast<double>(events_per_simulate);
  // Events over the whole simulate_step wall time (not just the event loop): the rate a planner sees.
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events_per_simulate) * iterations, benchmark::Counter::kIsRate);
  state.counters["gpus"] = static_cast<double>(c.plan.gpus());
}

void BM_SimulateGpt3_175B_1024A100(benchmark::State& s) { simulate(s, gpt3_175b_1024_a100()); }
void BM_SimulateLlama3_405B_16384H100(benchmark::State& s) { simulate(s, llama3_405b_16384_h100()); }
void BM_SimulateLlama3_405B_16128H100_pp9_vpp2(benchmark::State& s) { simulate(s, llama3_405b_16128_h100_pp9()); }

// The phases of simulate_step one by one, each with the previous phases' output prepared outside the loop, so
// their times add up to (about) the whole: cost tables, graph lowering, the event loop, the memory model.
void cost_tables(benchmark::State& state, const Case& c) {
  for (auto _ : state) {
    const auto costs = planner::compute_step_costs(c.scenario, c.plan);
    benchmark::DoNotOptimize(costs.chunks.data());
  }
  state.counters["chunks"] = static_cast<double>(c.plan.pp * c.plan.vpp);
}
void BM_CostTables(benchmark::State& s) { cost_tables(s, gpt3_175b_1024_a100()); }
void BM_CostTables_Llama3_405B_16384H100(benchmark::State& s) { cost_tables(s, llama3_405b_16384_h100()); }

void BM_StepGraph_Gpt3_175B(benchmark::State& state) {
  const Case& c = gpt3_175b_1024_a100();
  const auto costs = planner::compute_step_costs(c.scenario, c.plan);
  std::size_t tasks = 0;
  for (auto _ : state) {
    const auto g = planner::build_step_graph(costs, c.plan, planner::RankMode::representative);
    tasks = g.graph.size();
    benchmark::DoNotOptimize(g.graph.size());
  }
  state.counters["tasks"] = static_cast<double>(tasks);
  state.SetItemsProcessed(static_cast<std::int64_t>(tasks * state.iterations()));  // tasks lowered per second
}

void BM_EventLoop_Gpt3_175B(benchmark::State& state) {
  const Case& c = gpt3_175b_1024_a100();
  const auto costs = planner::compute_step_costs(c.scenario, c.plan);
  const auto g = planner::build_step_graph(costs, c.plan, planner::RankMode::representative);
  std::uint64_t events = 0;
  for (auto _ : state) {
    const auto r = hpsim::sim::simulate(g.graph);
    events += r.events;
    benchmark::DoNotOptimize(r.makespan);
  }
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}

void BM_MemoryModel_Gpt3_175B(benchmark::State& state) {
  const Case& c = gpt3_175b_1024_a100();
  planner::CostCache cache(c.scenario);
  for (auto _ : state) {
    const auto m = planner::memory_use(cache, c.plan);
    benchmark::DoNotOptimize(&m);
  }
}

}  // namespace

BENCHMARK(BM_SimulateGpt3_175B_1024A100)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SimulateLlama3_405B_16384H100)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SimulateLlama3_405B_16128H100_pp9_vpp2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CostTables)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CostTables_Llama3_405B_16384H100)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StepGraph_Gpt3_175B)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EventLoop_Gpt3_175B)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MemoryModel_Gpt3_175B)->Unit(benchmark::kMillisecond);
