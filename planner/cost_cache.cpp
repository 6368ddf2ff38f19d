#include "planner/cost_cache.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <shared_mutex>
#include <stdexcept>

#include "models/operators.hpp"
#include "costs/compute_cost.hpp"

namespace hpsim::planner {

using core::Bytes;
using core::Seconds;
using costs::Collective;

namespace {

OpsCost cost_ops(const std::vector<models::Operator>& ops, const costs::ComputeCost& compute,
                 models::Recompute recompute) {
  OpsCost c;
  double redone = 0;  // operators re-run in backward
  std::size_t side = 0;  // which TP collective the next weight GEMM sits beside
  for (const auto& op : ops) {
    const auto t = compute.time(op);
    c.forward += t.forward;
    c.backward += t.backward;
    c.forward_flops += op.forward_flops.value();
    c.backward_flops += op.backward_flops.value();
    c.all_activations += op.activation_bytes;
    if (op.attention_core) {
      c.attention_forward += t.forward;
      c.attention_backward += t.backward;
    }
    if (op.kind == models::OpKind::gemm && op.quantizable) {
      // Column-parallel GEMMs read the gathered input, row-parallel ones feed the reduce-scatter: the attention's
      // come first (sides 0 and 1), the MLP's next (2 and 3).
      if (op.row_parallel && side % 2 == 0) ++side;
      if (!op.row_parallel && side % 2 == 1) ++side;
      if (side < 4) {
        c.tp_gemm_forward[side] += t.forward;
        c.tp_gemm_backward[side] += t.backward;
      }
    }
    const double redo = models::recomputed_share(op, recompute);
    if (redo > 0) {
      redone += 1;
      c.recompute += t.forward * redo;
      c.recompute_flops += op.forward_flops.value() * redo;
    }
    if (!(recompute == models::Recompute::selective && op.attention_core)) c.stored_activations += op.activation_bytes;
  }
  // The host issues the operators asynchronously, ahead of the device, which therefore waits when its kernels are
  // shorter than the host's issue time (small layers: small hidden size or micro-batch, large tp).
  const auto n = static_cast<double>(ops.size());
  c.forward = std::max(c.forward, compute.host_issue_time(n));
  c.backward = std::max(c.backward, compute.host_issue_time(n * topologies::kBackwardIssueFactor));
  c.recompute = std::max(c.recompute, compute.host_issue_time(redone));
  return c;
}

}  // namespace

CollectiveChoice::CollectiveChoice(const std::vector<costs::CollectiveModel>& models) : count_(models.size()) {
  if (models.size() > kMaxModels) throw std::logic_error("a collective choice holds one model per algorithm");
  std::copy(models.begin(), models.end(), models_.begin());
}

Seconds CollectiveChoice::time(Bytes bytes) const {
  if (count_ == 0 || bytes.value() <= 0) return Seconds(0);
  Seconds best(std::numeric_limits<double>::max());
  for (std::size_t i = 0; i < count_; ++i) best = std::min(best, models_[i].time(bytes));
  return best;
}

models::ModelSpec padded_model(const models::ModelSpec& model, std::int64_t tp) {
  models::ModelSpec m = model;
  const std::int64_t multiple = 128 * tp;
  m.vocab_size = (model.vocab_size + multiple - 1) / multiple * multiple;
  return m;
}

models::ShardShape shard_of(const Plan& plan) {
  models::ShardShape shard;
  shard.tp = plan.tp;
  shard.cp = plan.cp;
  shard.ep = plan.ep;
  shard.etp = plan.expert_tp();
  shard.moe_load = plan.moe_load_factor();
  shard.grouped_gemm = plan.moe_grouped_gemm;
  shard.sp = plan.sp;
  shard.micro_batch = plan.micro_batch_size;
  shard.seq_length = plan.seq_length;
  shard.bytes_per_element = plan.precision == topologies::Precision::fp32 ? 4.0 : 2.0;
  shard.fp8_saved_inputs = plan.precision == topologies::Precision::fp8;
  shard.flash_attention = plan.flash_attention;
  return shard;
}

namespace {

/// TP overlap whose reduce-scatters run on SMs the GEMMs leave free: Transformer Engine's userbuffers. PyTorch's
/// async TP moves its chunks with copy engines (torch/distributed/_symmetric_memory: copy_ between symmetric
/// buffers) and sums them afterwards (step_costs.cpp).
bool overlap_takes_sms(const Plan& plan) {
  return plan.tp > 1 && plan.tp_comm_overlap && plan.framework != Framework::fsdp;
}

}  // namespace

costs::KernelChoice kernel_choice(const Plan& plan) {
  const std::int64_t sms = overlap_takes_sms(plan) ? costs::kTpOverlapReduceScatterSms : 0;
  return {plan.precision, plan.fp8_recipe, plan.attention_backend, sms, plan.execution};
}

CostCache::CostCache(Scenario scenario) : scenario_(std::move(scenario)) {
  const topologies::ClusterSpec& c = scenario_.cluster();
  for (std::size_t g = 0; g < c.node_groups.size(); ++g)
    groups_.push_back(std::make_unique<CostCache>(Scenario(scenario_.model(), topologies::group_cluster(c, g))));
}

const models::ModelSpec& CostCache::model(std::int64_t tp) {
  {
    std::shared_lock lock(mutex_);
    if (auto it = padded_.find(tp); it != padded_.end()) return it->second;  // std::map nodes are stable
  }
  std::lock_guard lock(mutex_);
  auto it = padded_.find(tp);
  if (it == padded_.end()) it = padded_.emplace(tp, padded_model(scenario_.model(), tp)).first;
  return it->second;
}

OpsCost CostCache::ops(OpsPart part, const Plan& plan) {
  const OpsKey key{static_cast<int>(part), plan.tp, plan.cp, plan.ep, plan.sp, plan.micro_batch_size,
                   plan.seq_length, plan.flash_attention, static_cast<int>(plan.precision),
                   static_cast<int>(plan.fp8_recipe), static_cast<int>(plan.attention_backend),
                   overlap_takes_sms(plan), static_cast<int>(plan.execution),
                   part == OpsPart::layer || part == OpsPart::dense_layer ? static_cast<int>(plan.recompute) : 0, plan.expert_tp(),
                   std::llround(plan.moe_load_factor() * 1000.0), plan.moe_grouped_gemm};
  {
    std::shared_lock lock(mutex_);
    if (auto it = ops_.find(key); it != ops_.end()) return it->second;
  }
  const models::ModelSpec& m = model(plan.tp);
  const costs::ComputeCost compute(scenario_.cluster().gpu, kernel_choice(plan));
  const auto shard = shard_of(plan);
  const bool layer = part == OpsPart::layer || part == OpsPart::dense_layer;
  const auto kind = part == OpsPart::dense_layer ? models::LayerKind::leading_dense : models::LayerKind::usual;
  const auto recompute = layer ? plan.recompute : models::Recompute::none;
  OpsCost cost = cost_ops(layer                        ? models::lower_layer(m, shard, kind)
                          : part == OpsPart::embedding ? models::lower_embedding(m, shard)
                                                       : models::lower_lm_head(m, shard),
                          compute, recompute);
  if (recompute == models::Recompute::op_selective)
    cost.stored_activations = models::op_selective_saved_bytes(m, shard, kind);
  std::lock_guard lock(mutex_);
  return ops_.emplace(key, cost).first->second;
}

CollectiveChoice CostCache::collective(Collective op, Communicator comm, const Plan& plan, std::int64_t stage) {
  const bool expert = comm == Communicator::ep || comm == Communicator::expert_tp ||
                      comm == Communicator::expert_tp_ep || comm == Communicator::expert_dp;
  const CommKey key{static_cast<int>(op), static_cast<int>(comm), plan.tp, plan.cp, plan.dp, plan.pp,
                    comm == Communicator::pp_boundary ? stage : 0, expert ? plan.ep : 1, expert ? plan.expert_tp() : 0};
  {
    std::shared_lock lock(mutex_);
    if (auto it = comms_.find(key); it != comms_.end()) return it->second;
  }
  const RankLayout layout(plan);
  Groups groups;
  switch (comm) {
    case Communicator::tp: groups = layout.tp_groups(); break;
    case Communicator::ep: groups = layout.ep_groups(); break;
    case Communicator::expert_tp: groups = layout.etp_groups(); break;
    case Communicator::expert_tp_ep: groups = layout.tp_ep_groups(); break;
    case Communicator::expert_dp: groups = layout.expert_dp_groups(); break;
    case Communicator::dp: groups = layout.dp_groups(); break;
    case Communicator::pp_boundary: groups = layout.pp_pairs(stage); break;
    case Communicator::cp_ring:
      for (const auto& g : layout.cp_groups())
        for (std::size_t i = 0; i < g.size(); ++i) groups.push_back({g[i], g[(i + 1) % g.size()]});
      break;
    case Communicator::embedding_pair:  // every (first stage, last stage) pair of one (tp, cp, dp) coordinate
      for (const auto& pair : layout.pp_pairs(plan.pp - 1)) groups.push_back({pair[1], pair[0]});
      break;
  }
  const CollectiveChoice choice = choice_for(op, groups);
  std::lock_guard lock(mutex_);
  return comms_.emplace(key, choice).first->second;
}

CollectiveChoice CostCache::choice_for(Collective op, const Groups& groups) {
  std::vector<std::int32_t> key{static_cast<std::int32_t>(op)};
  for (const auto& g : groups) {
    key.push_back(-static_cast<std::int32_t>(g.size()));
    for (const std::int64_t r : g) key.push_back(static_cast<std::int32_t>(r));
  }
  {
    std::shared_lock lock(mutex_);
    if (auto it = by_groups_.find(key); it != by_groups_.end()) return it->second;
  }
  const CollectiveChoice choice(scenario_.coster().models(op, groups));
  std::lock_guard lock(mutex_);
  return by_groups_.emplace(std::move(key), choice).first->second;
}

CollectiveChoice CostCache::parameter_server(const Plan& plan) {
  const CommKey key{-1, static_cast<int>(Communicator::dp), plan.tp, plan.cp, plan.dp, plan.pp,
                    plan.parameter_servers, 1, 0};
  {
    std::shared_lock lock(mutex_);
    if (auto it = comms_.find(key); it != comms_.end()) return it->second;
  }
  const CollectiveChoice choice(std::vector<costs::CollectiveModel>{
      scenario_.coster().parameter_server_model(RankLayout(plan).dp_groups(), plan.parameter_servers)});
  std::lock_guard lock(mutex_);
  return comms_.emplace(key, choice).first->second;
}

}  // namespace hpsim::planner
