#pragma once
/// The cost tables the step lowering needs: per model chunk and micro-batch the compute time and the exposed
/// TP/CP/EP communication, per pipeline boundary the send time, and the data-parallel collectives' models.
#include <cstdint>
#include <vector>

#include "core/units.hpp"
#include "models/model_spec.hpp"
#include "planner/plan.hpp"
#include "topologies/cluster_spec.hpp"
#include "planner/cost_cache.hpp"
#include "planner/parameters.hpp"
#include "costs/collectives.hpp"

namespace hpsim::planner {

/// One virtual pipeline stage (a chunk of layers, plus the embedding or LM head at the ends), one micro-batch.
struct ChunkCost {
  core::Seconds forward;            ///< compute
  core::Seconds backward;           ///< compute
  core::Seconds recompute;          ///< forward work redone before backward (selective or full)
  core::Seconds forward_tp, backward_tp, recompute_tp;  ///< exposed tensor-parallel communication
  core::Seconds forward_cp, backward_cp;                ///< exposed context-parallel (ring attention) traffic
  core::Seconds forward_ep, backward_ep;                ///< expert-parallel all-to-all
  double parameters = 0;            ///< weights of this chunk held by one rank (before ZeRO sharding)
  double expert_parameters = 0;     ///< the routed experts' among them (ZeRO shards them over expert dp ranks)
  double end_parameters = 0;        ///< the embedding's and LM head's among them (gathered 16-bit)
  /// Units ZeRO-3/FSDP gathers and reduce-scatters one at a time: the layers, and the embedding and the LM head as
  /// units of their own (each its own collective, paying its latency).
  std::int64_t units = 1;
  double model_flops = 0;           ///< forward+backward matmul FLOPs on one rank (no recomputation)
  double hardware_flops = 0;        ///< the same with recomputation
  std::int64_t layers = 0;          ///< decoder layers of this virtual stage (pipeline_split.hpp)

  /// Every pass of one micro-batch through the chunk with its blocking communication, back to back.
  [[nodiscard]] core::Seconds work() const {
    return forward + forward_tp + forward_cp + forward_ep + recompute + recompute_tp + backward + backward_tp +
           backward_cp + backward_ep;
  }
};

struct StepCosts {
  std::vector<ChunkCost> chunks;           ///< by virtual stage (chunk * pp + stage)
  std::vector<core::Seconds> pp_send;      ///< by boundary: stage i -> i+1 (last: wrap to 0, interleaving)
  CollectiveChoice grad_reduce;            ///< all-reduce, or reduce-scatter under ZeRO >= 1 (dp*cp group)
  CollectiveChoice param_gather;           ///< all-gather of weights (ZeRO >= 1)
  /// Tied embeddings with pp > 1: the first and last stages all-reduce the embedding's gradients (0 otherwise).
  core::Seconds embedding_sync;
  ParameterBytes bytes;                    ///< per parameter held: weight, gradient, optimizer states, Adam traffic
  double bucket_parameters = 40e6;         ///< gradient bucket (Megatron: max(40M, 1M * dp))
  core::BytesPerSecond memory_bandwidth;   ///< achieved HBM bandwidth (optimizer step)
  core::Seconds kernel_overhead;
  /// The share of the GPU's SMs a data-parallel collective kernel occupies while it runs: compute overlapping it
  /// runs that much slower (cluster collective_kernel_sms / GPU sm_count).
  double collective_processor_share = 0;
};

/// The optimizer step of a rank holding `parameters` (before ZeRO sharding), `experts` of them routed experts':
/// memory-bound Adam.
core::Seconds optimizer_step_time(const StepCosts& costs, const Plan& plan, double parameters, double experts = 0);

/// Buckets of a chunk's gradient reduction when it overlaps the last backward (Megatron's bucket size). Beyond about
/// a thousand the exposed tail (one bucket's reduction) is under 0.1 % of the chunk's: more change nothing measurable
/// but the task count, which would grow with the parameters without bound.
std::int64_t gradient_buckets(const StepCosts& costs, const ChunkCost& chunk);

/// What a pipeline split moves between stages, per micro-batch (ChunkCost::work): one decoder layer (one of an MoE
/// model's leading dense layers), the first virtual stage's embedding and the last one's LM head and loss. A chunk's
/// work is linear in its layers of each kind.
struct PipelineUnitCosts {
  core::Seconds layer, embedding, head;
  core::Seconds dense_layer;      ///< = layer when the model has no leading dense layers
  std::int64_t dense_layers = 0;  ///< the model's first layers that are dense_layer
};
PipelineUnitCosts pipeline_unit_costs(CostCache& cache, const Plan& plan);

/// What to cost, for the search's lower bounds (step_time_lower_bound_s reads no data-parallel collective): modelling
/// the collectives of every stage boundary and data-parallel group of every layout is the costliest part of costing
/// on large clusters.
enum class CostScope {
  step,      ///< everything
  pipeline,  ///< chunks, pipeline sends and optimizer rates; no data-parallel collective
  chunks,    ///< chunks and optimizer rates; pipeline sends left at zero
};

/// Builds every table for a resolved plan whose pipeline split is determined (pipeline_balance.hpp chooses one
/// otherwise), reusing what `cache` already costed.
StepCosts compute_step_costs(CostCache& cache, const Plan& plan, CostScope scope = CostScope::step);

/// The same with a cache of its own (one plan).
StepCosts compute_step_costs(const Scenario& scenario, const Plan& plan);

}  // namespace hpsim::planner
