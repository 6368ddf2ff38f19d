#include "planner/step_simulation.hpp"

#include <algorithm>

#include "planner/mixed_cluster.hpp"
#include "planner/pipeline_balance.hpp"
#include "planner/pipeline_split.hpp"
#include "planner/step_costs.hpp"

namespace hpsim::planner {

using core::Seconds;
using core::to_seconds;

SimulatedStep simulate_step(const Scenario& scenario, const Plan& plan, const SimulateOptions& options) {
  CostCache cache(scenario);
  return simulate_step(cache, plan, options);
}

SimulatedStep simulate_step(CostCache& cache, const Plan& given, const SimulateOptions& options) {
  const topologies::ClusterSpec& cluster = cache.cluster();
  const Plan plan = with_pipeline_split(cache, given);
  const StepCosts costs = compute_step_costs(cache, plan);
  const RankMode mode = options.rank_slowdown.empty() ? options.mode : RankMode::full;
  auto graph = std::make_shared<StepGraph>(
      build_step_graph(costs, plan, mode, options.keep_graph, options.rank_slowdown));
  auto timings = std::make_shared<sim::SimResult>(sim::simulate(graph->graph));

  StepResult r;
  r.plan = plan;
  r.layers_per_virtual_stage = PipelineSplit(plan, cache.model(plan.tp).num_layers).per_virtual_stage();
  r.gpus = plan.gpus();
  r.step_time = to_seconds(timings->makespan);
  r.events = timings->events;
  r.tasks = graph->graph.size();

  // Breakdown on the rank that finishes last (ties: the lowest rank).
  std::int32_t slowest = 0;
  {
    std::vector<core::Time> end(static_cast<std::size_t>(graph->graph.rank_count()));
    for (std::size_t i = 0; i < graph->graph.size(); ++i) {
      auto& e = end[static_cast<std::size_t>(graph->graph.task(static_cast<sim::TaskId>(i)).rank)];
      e = std::max(e, timings->timing[i].end);
    }
    slowest = static_cast<std::int32_t>(std::max_element(end.begin(), end.end()) - end.begin());
  }
  const auto parts = sim::attribute_time(graph->graph, *timings, slowest, timings->makespan);
  auto part = [&](Category c) { return to_seconds(parts[static_cast<std::size_t>(c)]); };
  r.breakdown.compute = part(Category::compute) + part(Category::recompute);
  r.breakdown.tp_comm_exposed = part(Category::tp_comm);
  r.breakdown.cp_comm_exposed = part(Category::cp_comm);
  r.breakdown.ep_comm_exposed = part(Category::ep_comm);
  r.breakdown.pp_comm_exposed = part(Category::pp_comm);
  r.breakdown.dp_comm_exposed = part(Category::dp_comm);
  r.breakdown.other = part(Category::optimizer) + part(Category::other);
  r.breakdown.pp_bubble = to_seconds(parts.back());  // idle

  // Throughput and FLOP rates: every pipeline stage's FLOPs over every GPU.
  double model_flops = 0, hardware_flops = 0;
  for (const auto& c : costs.chunks) {
    model_flops += c.model_flops;
    hardware_flops += c.hardware_flops;
  }
  // Chunks hold one rank's share of one micro-batch; a step has m micro-batches on each of tp*cp*dp lanes.
  const double per_gpu_steps = static_cast<double>(plan.micro_batches()) / static_cast<double>(plan.pp);
  const double seconds = r.step_time.value();
  r.tokens_per_s = static_cast<double>(plan.global_batch_size * plan.seq_length) / seconds;
  r.model_tflops_per_gpu = model_flops * per_gpu_steps / seconds / 1e12;
  r.hardware_tflops_per_gpu = hardware_flops * per_gpu_steps / seconds / 1e12;
  const core::FlopsPerSecond peak =
      cache.groups() > 0 ? mixed_mean_peak(cache, plan) : cluster.gpu.peak_for(plan.precision);
  r.mfu = r.model_tflops_per_gpu * 1e12 / peak.value();
  r.memory = memory_use(cache, plan);

  SimulatedStep out;
  out.result = r;
  if (options.keep_graph) {
    out.graph = std::move(graph);
    out.timings = std::move(timings);
  }
  return out;
}

}  // namespace hpsim::planner
