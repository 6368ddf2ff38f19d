/// The planner's whole-space searches (issue targets on the 2-core machine: GPT-3 175B on 1024 A100 <= 0.5 s;
/// Llama-3 405B on 16,384 H100 <= 2 s), reporting candidates considered per second.
#include <benchmark/benchmark.h>

#include "models/model_spec.hpp"
#include "planner/search.hpp"
#include "topologies/cluster_spec.hpp"

namespace {

using namespace hpsim;

void run_search(benchmark::State& state, const char* model_name, const char* cluster_name, std::int64_t gbs,
                std::int64_t seq, topologies::Precision precision) {
  const auto model = models::load_model(model_name);
  const auto cluster = topologies::load_cluster(cluster_name);
  planner::SearchSpace space;
  space.fixed.global_batch_size = gbs;
  space.fixed.seq_length = seq;
  space.fixed.precision = precision;
  std::int64_t candidates = 0, simulated = 0, feasible = 0;
  for (auto _ : state) {
    const auto r = planner::search_plans(planner::Scenario(model, cluster), space);
    candidates += r.candidates;
    simulated = r.simulated;
    feasible = r.feasible;
    benchmark::DoNotOptimize(r.plans.data());
  }
  state.counters["candidates_per_s"] = benchmark::Counter(static_cast<double>(candidates), benchmark::Counter::kIsRate);
  state.counters["candidates"] = static_cast<double>(candidates) / static_cast<double>(state.iterations());
  state.counters["feasible"] = static_cast<double>(feasible);
  state.counters["simulated"] = static_cast<double>(simulated);
}

void BM_PlanGpt3_175B_1024A100(benchmark::State& state) {
  run_search(state, "gpt3-175b", "dgx-a100-80gb:128", 1536, 2048, topologies::Precision::fp16);
}

void BM_PlanLlama3_405B_16384H100(benchmark::State& state) {
  run_search(state, "llama3-405b", "dgx-h100:2048", 2048, 8192, topologies::Precision::bf16);
}

}  // namespace

BENCHMARK(BM_PlanGpt3_175B_1024A100)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PlanLlama3_405B_16384H100)->Unit(benchmark::kMillisecond)->UseRealTime();
