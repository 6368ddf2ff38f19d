#pragma once
/// Which parameters a rank holds and how many bytes each costs it (Megatron-LM's mixed-precision accounting).
#include <algorithm>
#include <cstdint>

#include "models/model_spec.hpp"
#include "planner/pipeline_split.hpp"
#include "planner/plan.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::planner {

/// Bytes per parameter a rank holds (before ZeRO sharding), and the HBM traffic of one Adam step per parameter. The
/// framework decides how (parameter_bytes): Megatron-LM and DeepSpeed keep a 16-bit working copy beside an fp32
/// master in the optimizer; FSDP2 keeps the fp32 parameter itself, sharded, and gathers it as 16 bits.
struct ParameterBytes {
  double weight = 2;              ///< the 16-bit copy the passes use and ZeRO-3/FSDP gathers (fp32 training: 4)
  double resident_weight = 2;     ///< the weights held between steps (ZeRO-3/FSDP: sharded)
  double gradient = 4;            ///< fp16 training keeps fp16 gradients; bf16/fp8 accumulate in grad_dtype
  double optimizer = 12;          ///< master weight (when not the resident weight) + two Adam moments, optimizer_dtype
  /// ZeRO-2 shards the resident weights too and keeps the gathered 16-bit weights from the forward to the backward
  /// pass (FSDP2's SHARD_GRAD_OP, reshard_after_forward=False); false: ZeRO-2 keeps the weights whole (DeepSpeed).
  bool gathered_weights_held = false;
  /// Bytes the optimizer step reads and writes. Transformer Engine's FP8 training keeps an FP8 weight and its
  /// transpose in the place of the 16-bit copy (the same 2 bytes, Megatron's --fp8-param-gather), rewritten after
  /// every update; torchao casts at use and keeps no FP8 copy.
  double optimizer_traffic = 34;
  /// Bytes per decoder-layer parameter that ZeRO/FSDP gathers and the passes hold gathered: `weight`, or 1 where the
  /// plan gathers the linear weights in FP8 (fp8_param_gather; a layer's norm weights, under 0.1 % of it, counted
  /// with them). The embedding and the LM head stay 16-bit.
  double gathered_layer_weight = 2;
  /// Bytes per decoder-layer parameter held between steps: `resident_weight`, or 1 where Megatron keeps the compute
  /// weight in FP8 (--fp8-param-gather: "keep the compute param in fp8 (do not use any other intermediate dtype)").
  double resident_layer_weight = 2;
};
ParameterBytes parameter_bytes(topologies::Precision precision, Framework framework = Framework::megatron,
                               bool fp8_param_gather = false, StateDtype grad_dtype = StateDtype::fp32,
                               StateDtype optimizer_dtype = StateDtype::fp32);
/// The plan's: its precision, framework, FP8 weight gathering and state dtypes.
ParameterBytes parameter_bytes(const Plan& plan);

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
    const std::int64_t layers = split_.layers(vs), dense = split_.layers_among_first(vs, dense_layers_);
    return layer_ * static_cast<double>(layers - dense) + (dense > 0 ? dense_layer_ * static_cast<double>(dense) : 0.0) +
           (vs == 0 ? first_ : 0.0) + (vs == last_stage_ ? last_ : 0.0);
  }
  /// The routed experts' share of operator(): sharded by ZeRO over the expert data-parallel ranks, not dp*cp.
  [[nodiscard]] double experts(std::int64_t vs) const {
    return expert_layer_ * static_cast<double>(split_.layers(vs) - split_.layers_among_first(vs, dense_layers_));
  }
  /// The layers of each virtual stage these counts follow.
  [[nodiscard]] const PipelineSplit& split() const { return split_; }
  /// The most parameters sharded data parallelism (ZeRO-3/FSDP) gathers at once: one layer, or the embedding or
  /// LM head it wraps as a unit of its own.
  [[nodiscard]] double largest_unit() const { return std::max({layer_, dense_layer_, first_, last_}); }
  /// The embedding's and LM head's share of operator() (never gathered or kept in FP8).
  [[nodiscard]] double ends(std::int64_t vs) const { return (vs == 0 ? first_ : 0.0) + (vs == last_stage_ ? last_ : 0.0); }
  /// The bytes of the largest unit ZeRO-3/FSDP gathers, a decoder layer at `layer_bytes` per parameter, the
  /// embedding or LM head at `end_bytes`.
  [[nodiscard]] double largest_unit_bytes(double layer_bytes, double end_bytes) const {
    return std::max(std::max(layer_, dense_layer_) * layer_bytes, std::max(first_, last_) * end_bytes);
  }

 private:
  PipelineSplit split_;
  double layer_ = 0, dense_layer_ = 0, first_ = 0, last_ = 0;  ///< per usual layer, per leading dense layer, ends
  double expert_layer_ = 0;        ///< the routed experts' part of layer_
  std::int64_t dense_layers_ = 0;  ///< an MoE model's leading dense layers
  std::int64_t last_stage_ = 0;
};

}  // namespace hpsim::planner
