#pragma once
/// How a plan spreads its decoder layers over the virtual pipeline stages: evenly, or unevenly as Megatron-LM does it
/// (megatron/core/transformer/transformer_block.py, get_num_layers_to_build): given layer counts on the first and
/// last pipeline stage with the rest even over the middle ones, or the embedding and/or the loss counted as one layer
/// slot each on the first / last virtual stage. The one definition every cost, memory and output uses.
#include <cstdint>
#include <vector>

#include "planner/plan.hpp"

namespace hpsim::planner {

/// Layers per virtual stage (chunk * pp + stage), answered in O(1) without allocating (the search asks for every
/// stage of every candidate). Built from a plan whose split is determined (split_is_determined).
class PipelineSplit {
 public:
  PipelineSplit(const Plan& plan, std::int64_t num_layers);

  /// Decoder layers on virtual stage `vs` (0 .. pp*vpp-1).
  [[nodiscard]] std::int64_t layers(std::int64_t vs) const;
  /// Of virtual stage `vs`'s layers, those among the model's first `k` (an MoE model's leading dense layers): layers
  /// are numbered in virtual stage order, as Megatron-LM's layer offsets number them. O(1) for k = 0, else it walks
  /// the stages before `vs` only as far as the first k layers reach.
  [[nodiscard]] std::int64_t layers_among_first(std::int64_t vs, std::int64_t k) const;
  /// Decoder layers on pipeline stage `stage` (0 .. pp-1), all its virtual stages together.
  [[nodiscard]] std::int64_t stage_layers(std::int64_t stage) const;
  /// Every virtual stage holds num_layers / (pp*vpp) layers.
  [[nodiscard]] bool even() const;
  [[nodiscard]] std::int64_t virtual_stages() const { return pp_ * vpp_; }
  [[nodiscard]] std::vector<std::int64_t> per_virtual_stage() const;
  [[nodiscard]] std::vector<std::int64_t> per_stage() const;

 private:
  std::int64_t pp_, vpp_, num_layers_;
  std::vector<std::int64_t> given_;     ///< pipeline_layers, per pipeline stage (empty: not given)
  std::int64_t first_, last_, middle_;  ///< per pipeline stage, given first/last counts (0: not given)
  std::int64_t slots_;                  ///< per virtual stage, with the embedding/loss accounted
  bool embedding_, loss_;
};

/// Any of the split keys is set (Megatron's four, or pipeline_layers).
bool split_keys_given(const Plan& plan);

/// The plan says how its layers split: a split key is given, or pp*vpp divides the layers. Otherwise the split is
/// chosen for it (pipeline_balance.hpp).
bool split_is_determined(const Plan& plan, std::int64_t num_layers);

/// Some split Megatron-LM allows exists for these sizes when pp*vpp does not divide the layers: the embedding and/or
/// the loss accounted, or first/last stage counts (vpp dividing the layers, at least one layer slot per stage).
bool uneven_split_exists(std::int64_t num_layers, std::int64_t pp, std::int64_t vpp);

/// Megatron-LM's checks of the split keys (megatron/core/transformer/transformer_config.py, __post_init__), or
/// Rule::layers_by_pp_vpp when no key is given and no split exists. Allocates nothing.
Rule check_pipeline_split(const Plan& plan, std::int64_t num_layers);

/// The field and message of a broken split rule.
RuleBreach explain_pipeline_split(Rule rule, const Plan& plan, std::int64_t num_layers);

}  // namespace hpsim::planner
