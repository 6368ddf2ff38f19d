#pragma once
/// Shared sub-results of costing many plans of one model on one cluster: per-layer operator costs by shard shape,
/// and collective models by communicator and layout. Thread-safe; values are returned by copy.
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "models/formulas.hpp"
#include "models/operators.hpp"
#include "models/model_spec.hpp"
#include "planner/plan.hpp"
#include "planner/scenario.hpp"
#include "planner/rank_layout.hpp"
#include "topologies/cluster_spec.hpp"
#include "costs/collectives.hpp"
#include "costs/compute_cost.hpp"

namespace hpsim::planner {

/// Forward, backward and recompute time of a list of operators, with their FLOPs and stored activations.
struct OpsCost {
  core::Seconds forward, backward, recompute;
  core::Seconds attention_forward, attention_backward;  ///< the attention core (what CP traffic hides behind)
  /// The weight GEMMs beside a dense layer's TP collectives, in order: the attention's input GEMMs (after the
  /// all-gather), its output projection (before the reduce-scatter), the MLP's up and down projections. An
  /// overlapped collective hides behind its own GEMM only (TP overlap pipelines the two in chunks).
  std::array<core::Seconds, 4> tp_gemm_forward{}, tp_gemm_backward{};
  double forward_flops = 0, backward_flops = 0, recompute_flops = 0;
  core::Bytes stored_activations;  ///< kept from forward to backward under the plan's recomputation
  core::Bytes all_activations;     ///< kept without recomputation
};

/// Fastest of several algorithms' linear models, per message size. The models are held inline (one per algorithm at
/// most): the planner copies a choice out of the cache for every candidate, which a vector made an allocation each.
class CollectiveChoice {
 public:
  CollectiveChoice() = default;
  explicit CollectiveChoice(const std::vector<costs::CollectiveModel>& models);
  [[nodiscard]] core::Seconds time(core::Bytes bytes) const;

 private:
  static constexpr std::size_t kMaxModels = 3;  ///< ring, tree, hierarchical; or ring, nvls
  std::array<costs::CollectiveModel, kMaxModels> models_{};
  std::size_t count_ = 0;
};

/// Hash of the caches' integer keys: tuples and sequences, each element mixed in turn.
struct KeyHash {
  template <typename... T>
  std::size_t operator()(const std::tuple<T...>& key) const {
    std::size_t h = 0;
    std::apply([&h](const auto&... v) { (mix(h, static_cast<std::size_t>(v)), ...); }, key);
    return h;
  }
  std::size_t operator()(const std::vector<std::int32_t>& key) const {
    std::size_t h = 0;
    for (const std::int32_t v : key) mix(h, static_cast<std::size_t>(v));
    return h;
  }
  static void mix(std::size_t& h, std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); }
};

/// What to lower: the model's usual layer, the embedding, the LM head, or one of the dense layers an MoE model leads
/// with (first_k_dense_replace).
enum class OpsPart { layer, embedding, lm_head, dense_layer };
/// Communicators of a plan; each kind is costed with all its groups running at once.
enum class Communicator { tp, cp_ring, ep, dp, pp_boundary, embedding_pair, expert_tp, expert_tp_ep, expert_dp };

class CostCache {
 public:
  /// The cache pads the scenario's vocabulary per tp (padded_model), as Megatron does.
  explicit CostCache(Scenario scenario);

  [[nodiscard]] OpsCost ops(OpsPart part, const Plan& plan);
  /// `stage`: the sending stage for pp_boundary, ignored otherwise.
  [[nodiscard]] CollectiveChoice collective(costs::Collective op, Communicator comm, const Plan& plan,
                                            std::int64_t stage = 0);
  /// Gradient aggregation through the plan's parameter servers (a what-if beside all-reduce).
  [[nodiscard]] CollectiveChoice parameter_server(const Plan& plan);
  [[nodiscard]] const models::ModelSpec& model(std::int64_t tp);
  [[nodiscard]] const topologies::ClusterSpec& cluster() const { return scenario_.cluster(); }
  [[nodiscard]] const Scenario& scenario() const { return scenario_; }
  /// A mixed cluster's node groups, each with the cache of its homogeneous cluster (topologies::group_cluster) that
  /// costs the stages on it; none for a homogeneous cluster.
  [[nodiscard]] std::size_t groups() const { return groups_.size(); }
  [[nodiscard]] CostCache& group(std::size_t g) { return *groups_[g]; }

 private:
  using OpsKey = std::tuple<int, std::int64_t, std::int64_t, std::int64_t, bool, std::int64_t, std::int64_t, bool, int, int,
                            int, bool, int, int, std::int64_t, std::int64_t, bool>;
  using CommKey = std::tuple<int, int, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                             std::int64_t, std::int64_t>;
  /// The choice for `op` over exactly `groups`, computed once per distinct set of groups.
  [[nodiscard]] CollectiveChoice choice_for(costs::Collective op, const Groups& groups);

  Scenario scenario_;
  std::shared_mutex mutex_;  ///< lookups share it (the search's threads mostly read); inserts take it alone
  // Hashed: a search looks these up hundreds of thousands of times, where a tree's comparisons of long tuples cost.
  std::unordered_map<OpsKey, OpsCost, KeyHash> ops_;
  std::unordered_map<CommKey, CollectiveChoice, KeyHash> comms_;
  /// By the groups themselves (the collective, then each group's size, negated, and ranks): plans of different
  /// layouts often have the same groups (the stage pairs of every plan with the same pp, whatever its tp and dp;
  /// the tp groups of every plan with the same tp), and pricing them is what costs.
  std::unordered_map<std::vector<std::int32_t>, CollectiveChoice, KeyHash> by_groups_;
  std::map<std::int64_t, models::ModelSpec> padded_;
  std::vector<std::unique_ptr<CostCache>> groups_;
};

/// Vocabulary padded as Megatron-LM pads it (a multiple of 128 * tp), so the LM head splits evenly.
models::ModelSpec padded_model(const models::ModelSpec& model, std::int64_t tp);

/// The kernels a plan runs: its precision, FP8 recipe and attention kernel.
costs::KernelChoice kernel_choice(const Plan& plan);

/// The activation shard shape of a plan.
models::ShardShape shard_of(const Plan& plan);

}  // namespace hpsim::planner
