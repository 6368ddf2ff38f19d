/// CollectiveCoster::models on the data-parallel (and tensor-parallel) groups a planner asks about.
#include <benchmark/benchmark.h>

#include "costs/collectives.hpp"

namespace {

using hpsim::costs::Collective;
using hpsim::costs::CollectiveCoster;
using Groups = std::vector<std::vector<std::int64_t>>;

/// Megatron's rank order: rank = tp_rank + tp·(dp_rank + dp·pp_rank). One DP group per (tp_rank, pp_rank).
Groups dp_groups(std::int64_t gpus, std::int64_t tp, std::int64_t pp) {
  const std::int64_t dp = gpus / (tp * pp);
  Groups groups;
  for (std::int64_t p = 0; p < pp; ++p)
    for (std::int64_t t = 0; t < tp; ++t) {
      std::vector<std::int64_t> g;
      for (std::int64_t d = 0; d < dp; ++d) g.push_back(t + tp * (d + dp * p));
      groups.push_back(std::move(g));
    }
  return groups;
}

/// One TP group per (dp_rank, pp_rank): tp consecutive ranks.
Groups tp_groups(std::int64_t gpus, std::int64_t tp) {
  Groups groups;
  for (std::int64_t first = 0; first < gpus; first += tp) {
    std::vector<std::int64_t> g;
    for (std::int64_t t = 0; t < tp; ++t) g.push_back(first + t);
    groups.push_back(std::move(g));
  }
  return groups;
}

void run(benchmark::State& state, const std::string& cluster, Collective op, const Groups& groups) {
  const CollectiveCoster coster(hpsim::topologies::load_cluster(cluster));
  for (auto _ : state) benchmark::DoNotOptimize(coster.models(op, groups));
  state.counters["groups"] = static_cast<double>(groups.size());
}

// 1024 A100s, tp 8, pp 8: 64 DP groups of 16 ranks, one per node.
void BM_dp_allreduce_a100_1024(benchmark::State& s) {
  run(s, "dgx-a100-80gb:128", Collective::all_reduce, dp_groups(1024, 8, 8));
}
// tp 4: two members of each DP group per node, so the hierarchical algorithm applies too.
void BM_dp_allreduce_a100_1024_tp4(benchmark::State& s) {
  run(s, "dgx-a100-80gb:128", Collective::all_reduce, dp_groups(1024, 4, 8));
}
// 16,384 H100s, tp 8, pp 8: 64 DP groups of 256 ranks.
void BM_dp_allreduce_h100_16384(benchmark::State& s) {
  run(s, "dgx-h100:2048", Collective::all_reduce, dp_groups(16384, 8, 8));
}
// 16,384 H100s, tp 4, pp 2: 8 DP groups of 2048 ranks (two per node).
void BM_dp_allreduce_h100_16384_tp4(benchmark::State& s) {
  run(s, "dgx-h100:2048", Collective::all_reduce, dp_groups(16384, 4, 2));
}
void BM_dp_reduce_scatter_h100_16384(benchmark::State& s) {
  run(s, "dgx-h100:2048", Collective::reduce_scatter, dp_groups(16384, 8, 8));
}
// 2,048 concurrent TP groups of 8.
void BM_tp_allreduce_h100_16384(benchmark::State& s) {
  run(s, "dgx-h100:2048", Collective::all_reduce, tp_groups(16384, 8));
}

// Building the coster: the link graph of 16,384 H100s and its route cache (Dijkstra from each GPU and NIC of a node).
void BM_coster_h100_16384(benchmark::State& s) {
  const auto cluster = hpsim::topologies::load_cluster("dgx-h100:2048");
  for (auto _ : s) benchmark::DoNotOptimize(CollectiveCoster(cluster).graph().vertex_count());
}
// The Llama 3 cluster: 24,576 H100s, racks of 2 nodes, 8 pods.
void BM_coster_llama3_24576(benchmark::State& s) {
  const auto cluster = hpsim::topologies::load_cluster("llama3-h100-roce:3072");
  for (auto _ : s) benchmark::DoNotOptimize(CollectiveCoster(cluster).graph().vertex_count());
}

}  // namespace

BENCHMARK(BM_coster_h100_16384)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_coster_llama3_24576)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_dp_allreduce_a100_1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_dp_allreduce_a100_1024_tp4)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_dp_allreduce_h100_16384)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_dp_allreduce_h100_16384_tp4)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_dp_reduce_scatter_h100_16384)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_tp_allreduce_h100_16384)->Unit(benchmark::kMicrosecond);
