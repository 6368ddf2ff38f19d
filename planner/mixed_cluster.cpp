#include "planner/mixed_cluster.hpp"

#include <algorithm>
#include <set>

#include "core/error.hpp"
#include "planner/pipeline_balance.hpp"
#include "planner/pipeline_split.hpp"
#include "planner/plan_fields.hpp"

namespace hpsim::planner {

using core::Seconds;

std::size_t stage_group(const Plan& plan, const topologies::ClusterSpec& cluster, std::int64_t stage) {
  const std::int64_t first_rank = stage * plan.tp * plan.cp * plan.dp;
  return topologies::node_group_of(cluster, first_rank / cluster.gpus_per_node);
}

namespace {

/// Each group's tables for the groups the plan's stages use (by group index; the others left empty).
std::vector<StepCosts> group_costs(CostCache& cache, const Plan& plan, CostScope scope,
                                   const std::vector<std::size_t>& groups) {
  std::vector<StepCosts> out(cache.groups());
  for (const std::size_t g : std::set<std::size_t>(groups.begin(), groups.end()))
    out[g] = compute_step_costs(cache.group(g), plan, scope);
  return out;
}

std::vector<std::size_t> stage_groups(const Plan& plan, const topologies::ClusterSpec& cluster) {
  std::vector<std::size_t> out;
  for (std::int64_t s = 0; s < plan.pp; ++s) out.push_back(stage_group(plan, cluster, s));
  return out;
}

}  // namespace

StepCosts mixed_step_costs(CostCache& cache, const Plan& plan, CostScope scope) {
  const std::vector<std::size_t> groups = stage_groups(plan, cache.cluster());
  const std::vector<StepCosts> per_group = group_costs(cache, plan, scope, groups);
  const auto of_stage = [&](std::int64_t s) -> const StepCosts& {
    return per_group[groups[static_cast<std::size_t>(s % plan.pp)]];
  };
  StepCosts costs = of_stage(0);
  for (std::size_t vs = 0; vs < costs.chunks.size(); ++vs)
    costs.chunks[vs] = of_stage(static_cast<std::int64_t>(vs)).chunks[vs];
  // A send crosses both sides' links: the slower side's time (the stage's boundary s -> s+1, the last wrapping to 0).
  for (std::int64_t s = 0; s < plan.pp; ++s) {
    const auto i = static_cast<std::size_t>(s);
    costs.pp_send[i] = std::max(of_stage(s).pp_send[i], of_stage(s + 1).pp_send[i]);
  }
  // The step graph takes one data-parallel model and one set of optimizer rates for every stage: the slowest
  // group's, so that no stage is predicted faster than its hardware (docs/mixed_clusters.md, limits).
  const core::Bytes probe = core::gib(1);
  for (const std::size_t g : groups) {
    const StepCosts& c = per_group[g];
    if (c.grad_reduce.time(probe) > costs.grad_reduce.time(probe)) costs.grad_reduce = c.grad_reduce;
    if (c.param_gather.time(probe) > costs.param_gather.time(probe)) costs.param_gather = c.param_gather;
    costs.embedding_sync = std::max(costs.embedding_sync, c.embedding_sync);
    costs.memory_bandwidth = std::min(costs.memory_bandwidth, c.memory_bandwidth);
    costs.kernel_overhead = std::max(costs.kernel_overhead, c.kernel_overhead);
    costs.collective_processor_share = std::max(costs.collective_processor_share, c.collective_processor_share);
  }
  return costs;
}

MemoryUse mixed_memory_use(CostCache& cache, const Plan& plan) {
  MemoryUse worst;
  double worst_share = -1;
  for (std::int64_t s = 0; s < plan.pp; ++s) {
    const MemoryUse u = stage_memory_use(cache.group(stage_group(plan, cache.cluster(), s)), plan, s);
    const double share = u.peak.value() / u.usable.value();
    if (share > worst_share) worst = u, worst_share = share;
  }
  return worst;
}

core::FlopsPerSecond mixed_mean_peak(CostCache& cache, const Plan& plan) {
  double sum = 0;
  for (std::int64_t s = 0; s < plan.pp; ++s)
    sum += cache.group(stage_group(plan, cache.cluster(), s)).cluster().gpu.peak_for(plan.precision).value();
  return core::FlopsPerSecond(sum / static_cast<double>(plan.pp));
}

std::vector<std::int64_t> speed_split_layers(std::int64_t num_layers, std::int64_t vpp,
                                             const std::vector<PipelineUnitCosts>& units) {
  const auto pp = static_cast<std::int64_t>(units.size());
  if (pp == 0 || vpp <= 0 || num_layers % vpp != 0 || num_layers < pp * vpp) return {};
  std::vector<std::int64_t> layers(units.size(), vpp);
  const auto work = [&](std::size_t s, std::int64_t n) {
    return units[s].layer * static_cast<double>(n) + (s == 0 ? units[s].embedding : Seconds(0)) +
           (s + 1 == units.size() ? units[s].head : Seconds(0));
  };
  for (std::int64_t left = num_layers - pp * vpp; left > 0; left -= vpp) {
    std::size_t best = 0;
    for (std::size_t s = 1; s < units.size(); ++s)
      if (work(s, layers[s] + vpp) < work(best, layers[best] + vpp)) best = s;
    layers[best] += vpp;
  }
  return layers;
}

Plan with_speed_split(CostCache& cache, const Plan& plan) {
  if (split_keys_given(plan)) return plan;
  std::vector<PipelineUnitCosts> units;
  for (std::int64_t s = 0; s < plan.pp; ++s)
    units.push_back(pipeline_unit_costs(cache.group(stage_group(plan, cache.cluster(), s)), plan));
  Plan out = plan;
  out.pipeline_layers = speed_split_layers(cache.model(plan.tp).num_layers, plan.vpp, units);
  return out.pipeline_layers.empty() ? homogeneous_pipeline_split(cache, plan) : out;
}

MixedClusterComparison compare_mixed_cluster(const Scenario& scenario, const SearchSpace& space,
                                             const SearchOptions& options, double best_step_s) {
  SearchOptions one = options;
  one.top_k = 1;
  one.progress = nullptr;
  one.throw_if_nothing_fits = false;
  const auto best_of = [&](const Scenario& s, std::string* summary) {
    SearchResult r;
    try {
      r = search_plans(s, space, one);
    } catch (const core::InputError&) {  // the constraints leave no plan on this alternative
      return 0.0;
    } catch (const core::InfeasibleError&) {
      return 0.0;
    }
    if (r.plans.empty()) return 0.0;
    if (summary != nullptr) *summary = plan_summary_text(r.plans.front().plan);
    return r.plans.front().step_time.value();
  };
  MixedClusterComparison out;
  out.step_s = best_step_s;
  out.even_split_step_s = best_of(scenario.with_speed_split(false), &out.even_split_plan);
  const topologies::ClusterSpec& cluster = scenario.cluster();
  std::set<std::string> seen;
  for (std::size_t g = 0; g < cluster.node_groups.size(); ++g) {
    const topologies::ClusterSpec all = topologies::group_cluster(cluster, g);
    if (!seen.insert(all.gpu.name).second) continue;
    out.homogeneous.push_back({all.gpu.name, all.nodes, best_of(Scenario(scenario.model(), all), nullptr)});
  }
  return out;
}

}  // namespace hpsim::planner
