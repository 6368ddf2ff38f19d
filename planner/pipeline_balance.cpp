#include "planner/pipeline_balance.hpp"

#include <algorithm>
#include <cmath>

#include "planner/mixed_cluster.hpp"
#include "planner/pipeline_split.hpp"

namespace hpsim::planner {

SplitBalance split_balance(const Plan& plan, std::int64_t num_layers, const PipelineUnitCosts& units) {
  const PipelineSplit split(plan, num_layers);
  const std::int64_t stages = split.virtual_stages();
  SplitBalance b;
  for (std::int64_t s = 0; s < plan.pp; ++s) {
    double stage = 0;
    for (std::int64_t c = 0; c < plan.vpp; ++c) {
      const std::int64_t vs = c * plan.pp + s;
      const std::int64_t dense = split.layers_among_first(vs, units.dense_layers);
      const double work = units.layer.value() * static_cast<double>(split.layers(vs) - dense) +
                          (dense > 0 ? units.dense_layer.value() * static_cast<double>(dense) : 0.0) +
                          (vs == 0 ? units.embedding.value() : 0.0) + (vs == stages - 1 ? units.head.value() : 0.0);
      b.slowest_virtual_stage_s = std::max(b.slowest_virtual_stage_s, work);
      stage += work;
    }
    b.slowest_stage_s = std::max(b.slowest_stage_s, stage);
  }
  return b;
}

namespace {

/// Keeps the best of the candidates it is shown (the first on a tie).
class BestSplit {
 public:
  BestSplit(std::int64_t num_layers, const PipelineUnitCosts& units) : num_layers_(num_layers), units_(units) {}

  void consider(const Plan& candidate) {
    if (check_pipeline_split(candidate, num_layers_) != Rule::ok) return;
    const SplitBalance b = split_balance(candidate, num_layers_, units_);
    if (found_ && !b.better_than(balance_)) return;
    best_ = candidate, balance_ = b, found_ = true;
  }
  [[nodiscard]] bool found() const { return found_; }
  [[nodiscard]] const Plan& best() const { return best_; }

 private:
  std::int64_t num_layers_;
  const PipelineUnitCosts& units_;
  Plan best_;
  SplitBalance balance_;
  bool found_ = false;
};

Plan with_counts(Plan p, std::int64_t first, std::int64_t last) {
  p.decoder_first_pipeline_num_layers = first;
  p.decoder_last_pipeline_num_layers = last;
  return p;
}

/// First/last stage counts (megatron/core/transformer/transformer_block.py): for each layer count k of a middle stage,
/// the first count whose stage work meets the last one's, F*layer + embedding = (R - F)*layer + head with
/// R = layers - (pp - 2)*k, rounded both ways to multiples of vpp.
void consider_stage_counts(BestSplit& best, const Plan& base, std::int64_t num_layers, const PipelineUnitCosts& u) {
  const std::int64_t pp = base.pp, vpp = base.vpp, middle_stages = pp - 2;
  if (pp < 2 || num_layers % vpp != 0) return;
  const double layer = u.layer.value() > 0 ? u.layer.value() : 1.0;
  for (std::int64_t k = vpp;; k += vpp) {
    const std::int64_t rest = num_layers - middle_stages * k;  // for the first and last stage together
    if (rest < 2 * vpp) break;
    const double balance = (static_cast<double>(rest) * layer + u.head.value() - u.embedding.value()) / (2 * layer);
    const std::int64_t below = static_cast<std::int64_t>(std::floor(balance / static_cast<double>(vpp))) * vpp;
    for (const std::int64_t first : {below, below + vpp}) {
      const std::int64_t f = std::clamp(first, vpp, rest - vpp);
      best.consider(with_counts(base, f, rest - f));
    }
    if (middle_stages == 0) break;  // pp 2: the two stages hold every layer
  }
}

}  // namespace

Plan balanced_split(Plan plan, std::int64_t num_layers, const PipelineUnitCosts& units) {
  if (split_is_determined(plan, num_layers)) return plan;
  BestSplit best(num_layers, units);
  // Embedding and loss accounted (megatron/core/transformer/transformer_config.py), both, then either alone.
  for (const auto& [embedding, loss] : {std::pair{true, true}, std::pair{true, false}, std::pair{false, true}}) {
    Plan c = plan;
    c.account_for_embedding_in_pipeline_split = embedding;
    c.account_for_loss_in_pipeline_split = loss;
    best.consider(c);
  }
  consider_stage_counts(best, plan, num_layers, units);
  return best.found() ? best.best() : plan;
}

Plan with_pipeline_split(CostCache& cache, const Plan& plan) {
  if (cache.groups() > 0 && cache.scenario().speed_split() && !split_keys_given(plan))
    return with_speed_split(cache, plan);
  return homogeneous_pipeline_split(cache, plan);
}

Plan homogeneous_pipeline_split(CostCache& cache, const Plan& plan) {
  const std::int64_t num_layers = cache.model(plan.tp).num_layers;
  if (split_is_determined(plan, num_layers)) return plan;
  return balanced_split(plan, num_layers, pipeline_unit_costs(cache, plan));
}

}  // namespace hpsim::planner
