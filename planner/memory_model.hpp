#pragma once
/// Memory per GPU of a plan: weights, gradients, optimizer states (sharded by ZeRO), activations held by the
/// schedule's in-flight micro-batches (with recomputation), and communication buffers; the fullest stage counts.
#include <cstdint>

#include "core/units.hpp"
#include "models/model_spec.hpp"
#include "planner/cost_cache.hpp"
#include "planner/plan.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::planner {

struct MemoryUse {
  core::Bytes weights, gradients, optimizer, activations, buffers;
  core::Bytes peak;      ///< their sum on the fullest pipeline stage
  core::Bytes capacity;  ///< HBM size
  core::Bytes usable;    ///< capacity less the cluster's stated reserve
  std::int64_t stage = 0;
  [[nodiscard]] bool fits() const { return peak <= usable; }
};

/// Activation bytes one micro-batch leaves in memory per transformer layer of `kind`, on one GPU.
core::Bytes layer_activation_bytes(const models::ModelSpec& model, const Plan& plan,
                                   models::LayerKind kind = models::LayerKind::usual);

/// Memory of the fullest stage (a resolved plan with a determined pipeline split), from the cache's operator lists.
MemoryUse memory_use(CostCache& cache, const Plan& plan);
/// Memory of one pipeline stage (0 .. pp-1): its layers as the pipeline split gives them.
MemoryUse stage_memory_use(CostCache& cache, const Plan& plan, std::int64_t stage);

}  // namespace hpsim::planner
