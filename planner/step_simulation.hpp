#pragma once
/// Predicts one training step of a plan: builds the cost tables and the task graph, runs the simulator and
/// reports step time, its breakdown, throughput, FLOP rates and memory.
#include <cstdint>
#include <memory>
#include <vector>

#include "core/units.hpp"
#include "models/model_spec.hpp"
#include "planner/cost_cache.hpp"
#include "planner/memory_model.hpp"
#include "planner/plan.hpp"
#include "planner/step_graph.hpp"
#include "sim/engine.hpp"
#include "topologies/cluster_spec.hpp"
#include "costs/collectives.hpp"

namespace hpsim::planner {

/// Where the step's time went on its slowest rank; the parts add up to the step time.
struct StepBreakdown {
  core::Seconds compute;          ///< forward, backward and recomputation
  core::Seconds tp_comm_exposed;
  core::Seconds cp_comm_exposed;
  core::Seconds ep_comm_exposed;
  core::Seconds pp_bubble;        ///< the rank idles waiting for other stages
  core::Seconds pp_comm_exposed;
  core::Seconds dp_comm_exposed;
  core::Seconds other;            ///< optimizer step
};

struct StepResult {
  Plan plan;                       ///< resolved, with the pipeline split chosen when it was not given
  std::vector<std::int64_t> layers_per_virtual_stage;  ///< decoder layers of each virtual stage (chunk * pp + stage)
  std::int64_t gpus = 0;
  core::Seconds step_time;
  double tokens_per_s = 0;
  double model_tflops_per_gpu = 0;     ///< no recomputation (MFU's numerator)
  double hardware_tflops_per_gpu = 0;  ///< with recomputation
  double mfu = 0;
  StepBreakdown breakdown;
  MemoryUse memory;
  std::uint64_t events = 0;
  std::size_t tasks = 0;
};

struct SimulateOptions {
  RankMode mode = RankMode::representative;
  bool keep_graph = false;  ///< keep the task graph and timings (for a trace)
  /// Empty, or each GPU's compute slowdown (straggler_simulation.hpp's rank_slowdowns): the step is then simulated
  /// with every GPU (RankMode::full), as one slow GPU is not representative of its stage.
  std::vector<double> rank_slowdown;
};

/// The task graph and its timings, for writing a trace.
struct SimulatedStep {
  StepResult result;
  std::shared_ptr<StepGraph> graph;   ///< when keep_graph
  std::shared_ptr<sim::SimResult> timings;
};

/// `plan` must be resolved (resolve_plan); `cache` holds the model and cluster (and what was costed before). A plan
/// whose split is not determined gets the balanced one (pipeline_balance.hpp), which the result's plan records.
SimulatedStep simulate_step(CostCache& cache, const Plan& plan, const SimulateOptions& options = {});

/// One plan of a scenario on its own.
SimulatedStep simulate_step(const Scenario& scenario, const Plan& plan, const SimulateOptions& options = {});

}  // namespace hpsim::planner
