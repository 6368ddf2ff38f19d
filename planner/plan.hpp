#pragma once
/// A hybrid-parallel training plan (Megatron-LM's meaning of every field), as a value type.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/fields.hpp"
#include "costs/compute_cost.hpp"
#include "models/formulas.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::planner {

enum class Schedule { gpipe, one_f_one_b };

/// The framework that will run a plan (planner/framework.hpp: what it can run, its defaults, its memory accounting).
enum class Framework { megatron, deepspeed, fsdp };
/// How routed tokens reach their experts (Megatron-Core's --moe-token-dispatcher-type): an all-to-all over the
/// expert-parallel group (then an all-gather over the expert tensor-parallel group), or an all-gather of every token
/// over the expert-parallel x expert tensor-parallel group (and a reduce-scatter back).
enum class MoeDispatcher { alltoall, allgather };
inline constexpr std::string_view kMoeDispatcherNames[] = {"alltoall", "allgather"};
/// The dtype of a training state that may be kept in 32 or 16 bits (gradients, the optimizer's states).
enum class StateDtype { fp32, bf16 };
inline constexpr std::string_view kStateDtypeNames[] = {"fp32", "bf16"};

/// Every field of CONTRACT.md's plan table. dp == 0 means "derive from the GPU count".
struct Plan {
  std::int64_t tp = 1, pp = 1, dp = 0, cp = 1, ep = 1, vpp = 1;
  bool sp = false;
  std::int64_t micro_batch_size = 1;
  std::int64_t global_batch_size = 0;
  std::int64_t seq_length = 0;  ///< 0: the model's
  models::Recompute recompute = models::Recompute::none;
  std::int64_t zero = 0;
  topologies::Precision precision = topologies::Precision::bf16;
  Schedule schedule = Schedule::one_f_one_b;
  bool tp_comm_overlap = false;
  /// Context parallelism's key/value exchange hidden behind the attention core (ring attention, as Megatron/TE run
  /// it); false: exposed (a blocking all-gather, or a machine whose cores move the data themselves).
  bool cp_comm_overlap = true;
  bool overlap_grad_reduce = true;
  bool overlap_param_gather = true;
  bool flash_attention = true;  ///< fused attention (Megatron --use-flash-attn, TE's fused attention, PyTorch SDPA)
  /// What-if: > 0 aggregates gradients through this many parameter servers per data-parallel group (push, then
  /// pull) instead of an all-reduce; 0 = all-reduce (Megatron).
  std::int64_t parameter_servers = 0;
  /// Uneven pipeline split, Megatron-LM's keys (pipeline_split.hpp): layers on the first / last pipeline stage
  /// (0: not given), or the embedding / the loss counted as one layer slot. None given and pp*vpp not dividing the
  /// layers: the planner chooses the balanced split (pipeline_balance.hpp).
  std::int64_t decoder_first_pipeline_num_layers = 0, decoder_last_pipeline_num_layers = 0;
  bool account_for_embedding_in_pipeline_split = false, account_for_loss_in_pipeline_split = false;
  /// Decoder layers of each pipeline stage (pp entries, each a multiple of vpp, adding up to the layers), given or
  /// chosen by speed on a mixed cluster (mixed_cluster.hpp); empty: not given (plan key `pipeline_layers`).
  std::vector<std::int64_t> pipeline_layers;
  costs::Fp8Recipe fp8_recipe = costs::Fp8Recipe::delayed;           ///< how FP8 operands are scaled
  costs::AttentionKernel attention_backend = costs::AttentionKernel::cudnn;  ///< which fused attention kernel runs
  costs::Execution execution = costs::Execution::fused;  ///< how the framework runs the operators
  Framework framework = Framework::megatron;  ///< who runs it: limits the plans, sets defaults and memory accounting
  /// MoE (Megatron-Core's arguments). The experts' tensor-parallel size (0: tp, as Megatron's default).
  std::int64_t expert_tensor_parallel_size = 0;
  /// Tokens an expert takes, over the balanced share (0: dropless; Megatron --moe-expert-capacity-factor).
  double moe_expert_capacity_factor = 0;
  bool moe_pad_expert_input_to_capacity = false;  ///< every expert runs a full capacity (padding the rest)
  bool moe_grouped_gemm = true;                   ///< one grouped kernel for the local experts; false: one per expert
  MoeDispatcher moe_token_dispatcher = MoeDispatcher::alltoall;
  /// What-if: the most loaded expert's tokens over the mean (routing imbalance); the slowest rank decides.
  double moe_load_imbalance = 1;
  /// With precision fp8: data parallelism gathers the layers' linear weights in FP8 and keeps them so (Megatron
  /// --fp8-param-gather; torchtitan enable_fsdp_float8_all_gather, tensorwise scaling only).
  bool fp8_param_gather = false;
  /// The dtype gradients are accumulated and data-parallel reduced in: fp32 (Megatron-LM with bf16, torchtitan's
  /// reduce dtype) or bf16 (Megatron --grad-reduce-in-bf16, NeMo optim.grad_sync_dtype). fp16 training keeps fp16
  /// gradients whatever this says (bf16 is refused there).
  StateDtype grad_dtype = StateDtype::fp32;
  /// The dtype of the optimizer's master weights and Adam moments: fp32, or bf16 (NeMo's distributed_fused_adam
  /// with dtype bf16; Megatron's precision-aware optimizer with 16-bit master weights and moments).
  StateDtype optimizer_dtype = StateDtype::fp32;

  [[nodiscard]] std::int64_t expert_tp() const { return expert_tensor_parallel_size > 0 ? expert_tensor_parallel_size : tp; }
  /// Ranks holding the same expert shard: the expert data-parallel size (Megatron's expert_data_parallel_size).
  [[nodiscard]] std::int64_t expert_dp() const { return tp * cp * dp / (expert_tp() * ep); }
  /// The most loaded rank's expert tokens over the balanced share: the capacity bounds it (and padding fills it).
  [[nodiscard]] double moe_load_factor() const {
    if (moe_expert_capacity_factor <= 0) return moe_load_imbalance;
    return moe_pad_expert_input_to_capacity ? moe_expert_capacity_factor
                                            : std::min(moe_load_imbalance, moe_expert_capacity_factor);
  }

  /// FSDP2 under pipeline parallelism (torchtitan): a stage keeps its gathered 16-bit weights from its first use to
  /// the end of the step (reshard_after_forward off with pp) and accumulates unsharded gradients over the micro-batches,
  /// reduce-scattering them once after the last backward (torch.distributed.pipelining turns gradient sync off for
  /// the others): the gathers and reductions of ZeRO-1, the sharded fp32 master and Adam states of FSDP.
  [[nodiscard]] bool fsdp_holds_stage_unsharded() const { return framework == Framework::fsdp && pp > 1 && zero >= 2; }

  [[nodiscard]] std::int64_t gpus() const { return tp * pp * dp * cp; }
  [[nodiscard]] std::int64_t micro_batches() const { return global_batch_size / (micro_batch_size * dp); }
};

/// The recompute values' names, in models::Recompute order (plan files, flags and every printed plan).
inline constexpr std::string_view kRecomputeNames[] = {"none", "selective", "full", "op_selective"};
std::string to_string(models::Recompute r);
std::string to_string(Schedule s);

}  // namespace hpsim::planner

namespace hpsim::planner {

/// Reads the plan keys of CONTRACT.md from a mapping (a plan file's `plan`, a validation case's `plan`).
/// Unknown keys are an error (a typo would otherwise silently run another plan).
Plan plan_from_fields(const core::Fields& fields);

/// The rules a plan must keep (Megatron-LM's divisibility and schedule constraints). The rule test walks them from
/// missing_batch to the last, framework_optimizer_dtype: a rule added after it moves that bound.
enum class Rule {
  ok, missing_batch, gpus_by_model_parallel, too_many_gpus, heads_by_tp, kv_heads_by_tp, layers_by_pp_vpp,
  batch_by_mbs_dp, seq_by_cp, ep_needs_moe, experts_by_ep, expert_grid_by_gpus, vpp_needs_pp, gpipe_interleaved,
  micro_batches_by_pp, too_many_servers, servers_with_zero, sp_seq_by_tp, tp_overlap_needs_sp, split_keys_exclusive,
  split_needs_pp, split_stage_by_vpp, split_middle_layers, split_slots_by_pp_vpp, pipeline_layers_shape,
  stage_straddles_node_groups, framework_zero, framework_interleaved, framework_cp, framework_zero_with_pp,
  framework_fp8_recipe, framework_fp8_param_gather, grad_dtype_precision, framework_optimizer_dtype
};

/// Which field breaks a rule and how, in words.
struct RuleBreach {
  std::string field;
  std::string message;
};

/// Fills the derived fields (dp, seq_length; sp off without tp) and returns the first rule broken. Allocates
/// nothing: the planner calls it on every candidate.
Rule check_plan(Plan& plan, const models::ModelSpec& model, const topologies::ClusterSpec& cluster);
/// The rules of the model's shape alone (heads and KV heads by tp, the pipeline split of the layers), checked first.
Rule check_model_shape(const Plan& plan, const models::ModelSpec& model);
/// Every pipeline stage's ranks lie on one node group of a mixed cluster (Megatron's rank order, pp outermost).
bool stages_on_node_groups(const Plan& plan, const topologies::ClusterSpec& cluster);
/// A short name of the rule, for counting rejections ("layers not divisible by pp*vpp").
std::string_view rule_name(Rule rule);
/// The field and a message that says what was expected, for one broken rule.
RuleBreach explain(Rule rule, const Plan& plan, const models::ModelSpec& model, const topologies::ClusterSpec& cluster);

/// Fills the derived fields (dp from the cluster's GPU count, seq_length from the model) and checks every rule:
/// heads and kv heads by tp, layers by pp*vpp, global batch by micro-batch*dp, GPUs by tp*pp*cp, sequence by cp,
/// experts by ep, more GPUs than the cluster has, schedule constraints. Errors name `where` and the field.
Plan resolve_plan(Plan plan, const models::ModelSpec& model, const topologies::ClusterSpec& cluster,
                  const std::string& where);

}  // namespace hpsim::planner
