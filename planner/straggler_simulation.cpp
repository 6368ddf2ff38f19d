#include "planner/straggler_simulation.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "planner/step_costs.hpp"
#include "planner/step_graph.hpp"
#include "planner/stragglers.hpp"
#include "sim/engine.hpp"

namespace hpsim::planner {

namespace {

/// In [0, 1): 53 random bits (std's distributions differ between standard libraries; this does not).
double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1p-53; }

/// The nearest-rank percentile `q` of sorted values.
double nearest_rank(const std::vector<double>& sorted, double q) {
  const auto n = sorted.size();
  const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
  return sorted[std::clamp<std::size_t>(k, 1, n) - 1];
}

/// The slowest GPU of the fixed list inside a job of `gpus`; 1 when none.
double fixed_slowdown(const topologies::ClusterSpec& cluster, std::int64_t gpus) {
  double s = 1;
  for (const auto& g : cluster.run.slow_gpus)
    if (g.node * cluster.gpus_per_node + std::max<std::int64_t>(g.gpu, 0) < gpus) s = std::max(s, g.slowdown);
  return s;
}

/// The quick estimate: the fixed list's slowest GPU paces every step's compute, and with the chance that some drawn
/// node is slow the slower of the two does (stragglers.hpp's closed form, from the fixed list's step).
StragglerStats closed_form(const StepResult& healthy, const topologies::ClusterSpec& cluster, std::int64_t nodes,
                           bool drawing) {
  const auto& run = cluster.run;
  const double step = healthy.step_time.value(), compute = healthy.breakdown.compute.value();
  const double fixed = fixed_slowdown(cluster, healthy.gpus);
  const double slowest = drawing ? std::max(fixed, run.slow_node_slowdown) : fixed;
  const StragglerEffect e = straggler_effect(step + compute * (fixed - 1), compute * fixed, nodes,
                                             drawing ? run.slow_node_fraction : 0.0, slowest / fixed);
  StragglerStats st;
  st.healthy_step_s = step;
  st.mean_step_s = e.expected_step_s;
  const double base = step + compute * (fixed - 1);
  st.p50_step_s = e.chance >= 0.5 ? e.paced_step_s : base;
  st.p99_step_s = e.chance > 0.01 ? e.paced_step_s : base;
  st.loss = st.mean_step_s > 0 ? 1.0 - step / st.mean_step_s : 0.0;
  return st;
}

}  // namespace

bool has_stragglers(const topologies::RunConditions& run) {
  const bool drawn = run.slow_node_fraction > 0 && run.slow_node_slowdown > 1;
  return drawn || std::any_of(run.slow_gpus.begin(), run.slow_gpus.end(),
                              [](const topologies::SlowGpu& g) { return g.slowdown > 1; });
}

std::vector<double> rank_slowdowns(const topologies::ClusterSpec& cluster, std::int64_t gpus,
                                   std::span<const std::int64_t> drawn_nodes) {
  std::vector<double> slow(static_cast<std::size_t>(gpus), 1.0);
  const std::int64_t per_node = cluster.gpus_per_node;
  const auto slow_down = [&](std::int64_t rank, double s) {
    if (rank < gpus) slow[static_cast<std::size_t>(rank)] = std::max(slow[static_cast<std::size_t>(rank)], s);
  };
  const auto slow_node = [&](std::int64_t node, double s) {
    for (std::int64_t g = 0; g < per_node; ++g) slow_down(node * per_node + g, s);
  };
  for (const auto& g : cluster.run.slow_gpus) {
    if (g.gpu < 0) slow_node(g.node, g.slowdown);
    else slow_down(g.node * per_node + g.gpu, g.slowdown);
  }
  for (const std::int64_t node : drawn_nodes) slow_node(node, cluster.run.slow_node_slowdown);
  return slow;
}

StragglerStats straggler_estimate(const StepResult& healthy, const topologies::ClusterSpec& cluster) {
  const auto& run = cluster.run;
  const std::int64_t nodes = (healthy.gpus + cluster.gpus_per_node - 1) / cluster.gpus_per_node;
  const bool drawing = run.slow_node_fraction > 0 && run.slow_node_slowdown > 1;
  StragglerStats st = closed_form(healthy, cluster, nodes, drawing);
  st.samples = drawing ? std::max<std::int64_t>(run.straggler_samples, 1) : 1;
  st.seed = kStragglerSeed;
  return st;
}

std::optional<StragglerStats> simulate_stragglers(CostCache& cache, const StepResult& healthy, double max_tasks) {
  const topologies::ClusterSpec& cluster = cache.cluster();
  const auto& run = cluster.run;
  if (!has_stragglers(run)) return std::nullopt;
  const std::int64_t nodes = (healthy.gpus + cluster.gpus_per_node - 1) / cluster.gpus_per_node;
  const bool drawing = run.slow_node_fraction > 0 && run.slow_node_slowdown > 1;
  const bool fixed = fixed_slowdown(cluster, healthy.gpus) > 1;
  const std::int64_t samples = drawing ? std::max<std::int64_t>(run.straggler_samples, 1) : 1;

  // Draw every placement first: identical ones (often the healthy one) are simulated once.
  std::mt19937_64 rng(kStragglerSeed);
  std::vector<std::vector<std::int64_t>> placements(static_cast<std::size_t>(samples));
  if (drawing)
    for (auto& p : placements)
      for (std::int64_t node = 0; node < nodes; ++node)
        if (unit(rng) < run.slow_node_fraction) p.push_back(node);
  std::map<std::vector<std::int64_t>, double> step_of;
  for (const auto& p : placements)
    if (fixed || !p.empty()) step_of.emplace(p, 0.0);

  StragglerStats st;
  const double lanes = static_cast<double>(healthy.gpus / healthy.plan.pp);
  const double tasks = static_cast<double>(healthy.tasks) * lanes * static_cast<double>(step_of.size());
  if (tasks > max_tasks) {
    st = closed_form(healthy, cluster, nodes, drawing);
  } else {
    const StepCosts costs = compute_step_costs(cache, healthy.plan);
    for (auto& [placement, step_s] : step_of) {
      const auto slowdown = rank_slowdowns(cluster, healthy.gpus, placement);
      const StepGraph graph = build_step_graph(costs, healthy.plan, RankMode::full, false, slowdown);
      step_s = core::to_seconds(sim::simulate(graph.graph).makespan).value();
    }
    std::vector<double> steps;
    for (const auto& p : placements)
      steps.push_back(fixed || !p.empty() ? step_of.at(p) : healthy.step_time.value());
    std::sort(steps.begin(), steps.end());
    double sum = 0;
    for (double s : steps) sum += s;
    st.simulated = true;
    st.healthy_step_s = healthy.step_time.value();
    st.mean_step_s = sum / static_cast<double>(steps.size());
    st.p50_step_s = nearest_rank(steps, 0.50);
    st.p99_step_s = nearest_rank(steps, 0.99);
    st.loss = st.mean_step_s > 0 ? 1.0 - st.healthy_step_s / st.mean_step_s : 0.0;
    st.simulations = static_cast<std::int64_t>(step_of.size());
  }
  st.samples = samples;
  st.seed = kStragglerSeed;
  return st;
}

}  // namespace hpsim::planner
