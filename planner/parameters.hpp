#pragma once
/// Which parameters a rank holds and how many bytes each costs it (Megatron-LM's mixed-precision accounting).
#include <algorithm>
#include <cstdint>

#include "models/model_spec.hpp"
#include "planner/pipeline_split.hpp"
#include "planner/plan.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::planner {

/// Bytes per parameter a rank holds (before ZeRO sharding), and the HBM traffic of one Adam step per parameter.
struct ParameterBytes {
  double weight = 2;              ///< 16-bit copy (fp32 when training in fp32)
  double gradient = 4;            ///< fp16 training keeps fp16 gradients; bf16/fp8 accumulate in fp32
  double optimizer = 12;          ///< fp32 master weight + two Adam moments (no master copy in fp32 training)
  /// Bytes the optimizer step reads and writes. FP8 training keeps FP8 primary weights (Megatron's
  /// --fp8-param-gather, torchao's FP8 all-gather): an FP8 weight and its transpose in the place of the 16-bit copy
  /// (the same 2 bytes), rewritten after every update.
  double optimizer_traffic = 34;
};
ParameterBytes parameter_bytes(topologies::Precision precision);

/// Ranks one parameter is sharded over by ZeRO stage `min_stage` and up: dense ones over dp*cp, the routed experts'
/// over the expert data-parallel ranks (Megatron-Core's expert_data_parallel_group); 1 below that stage.
double zero_shard(const Plan& plan, std::int64_t min_stage, bool expert);

/// `parameters` of which `experts` are routed experts' (which ZeRO shards over the expert data-parallel ranks), as
/// held after ZeRO stage `min_stage`'s sharding.
inline double sharded_parameters(const Plan& plan, std::int64_t min_stage, double parameters, double experts) {
  return (parameters - experts) / zero_shard(plan, min_stage, false) + experts / zero_shard(plan, min_stage, true);
}

/// Parameters held by one rank of virtual stage `vs` (chunk * pp + stage): its layers (dense parts split tp ways,
/// experts etp*ep ways), plus the vocab-parallel embedding on the first and the LM head on the last (a tied head
/// keeps its own copy of the embedding when pp > 1). `model` has the vocabulary padded for tp.
double chunk_parameters(const models::ModelSpec& model, const Plan& plan, std::int64_t vs);

/// chunk_parameters for every virtual stage of one plan, computed once (the search asks for every stage of every
/// candidate): each chunk's layers as the pipeline split gives them, the embedding added to the first, the LM head to
/// the last.
class ChunkParameters {
 public:
  ChunkParameters(const models::ModelSpec& model, const Plan& plan);
  [[nodiscard]] double operator()(std::int64_t vs) const {
    return layer_ * static_cast<double>(split_.layers(vs)) + (vs == 0 ? first_ : 0.0) +
           (vs == last_stage_ ? last_ : 0.0);
  }
  /// The routed experts' share of operator(): sharded by ZeRO over the expert data-parallel ranks, not dp*cp.
  [[nodiscard]] double experts(std::int64_t vs) const { return expert_layer_ * static_cast<double>(split_.layers(vs)); }
  /// The most parameters sharded data parallelism (ZeRO-3/FSDP) gathers at once: one layer, or the embedding or
  /// LM head it wraps as a unit of its own.
  [[nodiscard]] double largest_unit() const { return std::max({layer_, first_, last_}); }

 private:
  PipelineSplit split_;
  double layer_ = 0, first_ = 0, last_ = 0, expert_layer_ = 0;
  std::int64_t last_stage_ = 0;
};

}  // namespace hpsim::planner
