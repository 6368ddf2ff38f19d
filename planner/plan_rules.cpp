#include "core/error.hpp"
#include "planner/framework.hpp"
#include "planner/plan.hpp"
#include "planner/plan_fields.hpp"
#include "planner/pipeline_split.hpp"

namespace hpsim::planner {

namespace {

std::string str(std::int64_t v) { return std::to_string(v); }

}  // namespace

bool stages_on_node_groups(const Plan& p, const topologies::ClusterSpec& cluster) {
  // Megatron's order puts pp outermost: stage s holds ranks [s*L, (s+1)*L), L = tp*cp*dp.
  const std::int64_t per_stage = p.tp * p.cp * p.dp;
  for (std::int64_t s = 0; s < p.pp; ++s)
    if (topologies::node_group_of(cluster, s * per_stage / cluster.gpus_per_node) !=
        topologies::node_group_of(cluster, ((s + 1) * per_stage - 1) / cluster.gpus_per_node))
      return false;
  return true;
}

Plan plan_from_fields(const core::Fields& f) {
  Plan p;
  for (const auto& field : plan_field_table()) field.set(p, field.default_code);
  for (const auto& kv : f.node()) {
    const auto key = kv.first.as<std::string>();
    if (key == pipeline_layers_field().key) {
      p.pipeline_layers = parse_pipeline_layers(kv.second, f.where());
      continue;
    }
    const PlanField* field = find_plan_field(key);
    if (field == nullptr || field->key != key) {
      std::string known;
      for (const auto& k : plan_field_table()) known += (known.empty() ? "" : ", ") + std::string(k.key);
      known += ", " + std::string(pipeline_layers_field().key);
      f.fail(key, "unknown plan key (known: " + known + ")");
    }
    if (!kv.second.IsScalar()) f.fail(key, "expected " + field_expectation(*field));
    field->set(p, parse_field_value(*field, kv.second.Scalar(), f.where()));
  }
  for (const auto& field : plan_field_table())
    if (field.required && !f.has(std::string(field.key)))
      f.fail(std::string(field.key), "missing (required: " + std::string(field.help) + ")");
  apply_framework_defaults(p, [&f](PlanKey k) { return f.has(std::string(plan_field(k).key)); });
  return p;
}

Rule check_model_shape(const Plan& p, const models::ModelSpec& model) {
  if (model.num_heads % p.tp != 0) return Rule::heads_by_tp;
  if (model.num_kv_heads % p.tp != 0) return Rule::kv_heads_by_tp;
  return check_pipeline_split(p, model.num_layers);
}

Rule check_plan(Plan& p, const models::ModelSpec& model, const topologies::ClusterSpec& cluster) {
  const std::int64_t cluster_gpus = cluster.total_gpus();
  const std::int64_t model_parallel = p.tp * p.pp * p.cp;
  if (p.seq_length == 0) p.seq_length = model.seq_length;
  if (p.global_batch_size <= 0) return Rule::missing_batch;
  // The model's shape first: these rules hold whatever the cluster, so they explain a bad pin best.
  if (const Rule r = check_model_shape(p, model); r != Rule::ok) return r;
  if (p.dp == 0) {
    if (cluster_gpus % model_parallel != 0) return Rule::gpus_by_model_parallel;
    p.dp = cluster_gpus / model_parallel;
  }
  if (p.gpus() > cluster_gpus) return Rule::too_many_gpus;
  if (cluster.mixed() && !stages_on_node_groups(p, cluster)) return Rule::stage_straddles_node_groups;
  if (p.global_batch_size % (p.micro_batch_size * p.dp) != 0) return Rule::batch_by_mbs_dp;
  if (p.seq_length % p.cp != 0) return Rule::seq_by_cp;
  if (p.ep > 1 && !model.is_moe()) return Rule::ep_needs_moe;
  if (model.is_moe() && model.num_experts % p.ep != 0) return Rule::experts_by_ep;
  // Megatron-Core lays the experts' grid (etp, ep, expert dp, pp) over the same ranks as attention's (tp, cp, dp,
  // pp): initialize_model_parallel in megatron/core/parallel_state.py requires world % (etp * ep * pp) == 0.
  if ((p.tp * p.cp * p.dp) % (p.expert_tp() * p.ep) != 0) return Rule::expert_grid_by_gpus;
  if (p.vpp > 1) {
    if (p.pp == 1) return Rule::vpp_needs_pp;
    if (p.schedule == Schedule::gpipe) return Rule::gpipe_interleaved;
    if (p.micro_batches() % p.pp != 0) return Rule::micro_batches_by_pp;
  }
  if (p.parameter_servers > p.dp * p.cp) return Rule::too_many_servers;
  if (p.parameter_servers > 0 && p.zero > 0) return Rule::servers_with_zero;
  if (p.sp && p.tp == 1) p.sp = false;  // Megatron turns sequence parallelism off without TP
  if (p.sp && p.seq_length / p.cp % p.tp != 0) return Rule::sp_seq_by_tp;
  // The overlap hpsim models is SP's: Transformer Engine's userbuffers and PyTorch's async TP split SP's all-gather
  // and reduce-scatter beside their GEMMs, and Megatron-LM asserts sequence parallelism with --tp-comm-overlap.
  if (p.tp_comm_overlap && p.tp > 1 && !p.sp) return Rule::tp_overlap_needs_sp;
  if (p.grad_dtype == StateDtype::bf16 && p.precision != topologies::Precision::bf16 &&
      p.precision != topologies::Precision::fp8)
    return Rule::grad_dtype_precision;
  p.recompute = framework_recompute(p.framework, p.recompute);
  return check_framework(p);
}

std::string_view rule_name(Rule r) {
  switch (r) {
    case Rule::ok: return "ok";
    case Rule::missing_batch: return "global batch size missing";
    case Rule::gpus_by_model_parallel: return "GPUs not divisible by tp*pp*cp";
    case Rule::too_many_gpus: return "more GPUs than the cluster has";
    case Rule::heads_by_tp: return "attention heads not divisible by tp";
    case Rule::kv_heads_by_tp: return "KV heads not divisible by tp";
    case Rule::layers_by_pp_vpp: return "no pipeline split of the layers over pp*vpp";
    case Rule::batch_by_mbs_dp: return "global batch not divisible by micro-batch*dp";
    case Rule::seq_by_cp: return "sequence not divisible by cp";
    case Rule::ep_needs_moe: return "expert parallelism without experts";
    case Rule::experts_by_ep: return "experts not divisible by ep";
    case Rule::expert_grid_by_gpus: return "tp*cp*dp not divisible by expert tp*ep";
    case Rule::vpp_needs_pp: return "interleaving without a pipeline";
    case Rule::gpipe_interleaved: return "GPipe cannot interleave";
    case Rule::micro_batches_by_pp: return "micro-batches not a multiple of pp (interleaved)";
    case Rule::too_many_servers: return "more parameter servers than data-parallel ranks";
    case Rule::servers_with_zero: return "parameter servers with ZeRO";
    case Rule::sp_seq_by_tp: return "sequence per CP rank not divisible by tp (SP)";
    case Rule::tp_overlap_needs_sp: return "TP overlap without SP";
    case Rule::split_keys_exclusive: return "first/last stage layers with embedding/loss accounted";
    case Rule::split_needs_pp: return "uneven pipeline split without a pipeline";
    case Rule::split_stage_by_vpp: return "first/last stage layers not divisible by vpp";
    case Rule::split_middle_layers: return "middle stages' layers uneven";
    case Rule::split_slots_by_pp_vpp: return "layer slots (embedding/loss accounted) not divisible by pp*vpp";
    case Rule::pipeline_layers_shape: return "pipeline_layers not one multiple of vpp per stage adding up to the layers";
    case Rule::stage_straddles_node_groups: return "a pipeline stage straddles two node groups";
    case Rule::framework_zero: return "ZeRO stage the framework cannot run";
    case Rule::framework_interleaved: return "interleaving the framework cannot run";
    case Rule::framework_cp: return "context parallelism the framework cannot run";
    case Rule::framework_zero_with_pp: return "ZeRO-2/3 with a pipeline (framework)";
    case Rule::framework_fp8_recipe: return "FP8 recipe the framework cannot run";
    case Rule::framework_fp8_param_gather: return "FP8 weight gathering the plan cannot run";
    case Rule::grad_dtype_precision: return "bf16 gradients without bf16 training";
    case Rule::framework_optimizer_dtype: return "optimizer dtype the framework cannot run";
  }
  return "unknown";
}

RuleBreach explain(Rule r, const Plan& p, const models::ModelSpec& model, const topologies::ClusterSpec& cluster) {
  const std::int64_t cluster_gpus = cluster.total_gpus();
  switch (r) {
    case Rule::ok: return {"", ""};
    case Rule::missing_batch: return {"global_batch_size", "required (sequences per optimizer step)"};
    case Rule::gpus_by_model_parallel:
      return {"dp", "cannot be derived: the cluster's " + str(cluster_gpus) + " GPUs are not divisible by tp*pp*cp = " +
                        str(p.tp * p.pp * p.cp)};
    case Rule::too_many_gpus:
      return {"dp", "tp*pp*dp*cp = " + str(p.gpus()) + " GPUs, but the cluster has " + str(cluster_gpus)};
    case Rule::heads_by_tp:
      return {"tp", "must divide num_attention_heads (" + str(model.num_heads) + "), got " + str(p.tp)};
    case Rule::kv_heads_by_tp:
      return {"tp", "must divide num_key_value_heads (" + str(model.num_kv_heads) + "), got " + str(p.tp)};
    case Rule::layers_by_pp_vpp:
    case Rule::split_keys_exclusive:
    case Rule::split_needs_pp:
    case Rule::split_stage_by_vpp:
    case Rule::split_middle_layers:
    case Rule::split_slots_by_pp_vpp:
    case Rule::pipeline_layers_shape: return explain_pipeline_split(r, p, model.num_layers);
    case Rule::stage_straddles_node_groups: {
      std::string groups;
      for (const auto& g : cluster.node_groups) groups += (groups.empty() ? "" : ", ") + str(g.nodes);
      return {"pp", "each pipeline stage's tp*cp*dp = " + str(p.tp * p.cp * p.dp) + " GPUs must lie on one node "
                    "group (one GPU type), but the groups of " + groups + " nodes of " + str(cluster.gpus_per_node) +
                    " GPUs do not start at stage boundaries with pp " + str(p.pp)};
    }
    case Rule::batch_by_mbs_dp:
      return {"global_batch_size", "must be a multiple of micro_batch_size*dp = " + str(p.micro_batch_size * p.dp) +
                                       ", got " + str(p.global_batch_size)};
    case Rule::seq_by_cp: return {"cp", "must divide seq_length (" + str(p.seq_length) + "), got " + str(p.cp)};
    case Rule::ep_needs_moe: return {"ep", "expert parallelism needs an MoE model (num_local_experts)"};
    case Rule::experts_by_ep:
      return {"ep", "must divide num_local_experts (" + str(model.num_experts) + "), got " + str(p.ep)};
    case Rule::expert_grid_by_gpus:
      return {"ep", "times expert_tensor_parallel_size (" + str(p.expert_tp()) + ") must divide tp*cp*dp = " +
                        str(p.tp * p.cp * p.dp) + " (the experts' grid spans the same ranks), got " + str(p.ep)};
    case Rule::vpp_needs_pp: return {"vpp", "interleaving (vpp > 1) needs pp > 1"};
    case Rule::gpipe_interleaved: return {"schedule", "gpipe has no interleaved form; use 1f1b with vpp > 1"};
    case Rule::micro_batches_by_pp:
      return {"vpp", "the interleaved schedule needs the number of micro-batches (" + str(p.micro_batches()) +
                         ") to be a multiple of pp (" + str(p.pp) + ")"};
    case Rule::too_many_servers:
      return {"parameter_servers", "at most one server per data-parallel rank (dp*cp = " + str(p.dp * p.cp) +
                                       "), got " + str(p.parameter_servers)};
    case Rule::servers_with_zero:
      return {"parameter_servers", "parameter servers hold the optimizer themselves; use zero 0 with them"};
    case Rule::sp_seq_by_tp:
      return {"sp", "sequence parallelism needs tp (" + str(p.tp) + ") to divide the sequence per CP rank (" +
                        str(p.seq_length / p.cp) + ")"};
    case Rule::tp_overlap_needs_sp:
      return {"tp_comm_overlap", "overlapping TP communication with the GEMMs needs sequence parallelism (sp true) "
                                 "with tp > 1, as Megatron-LM asserts; set sp true or tp_comm_overlap false"};
    case Rule::grad_dtype_precision:
      return {"grad_dtype", "bf16 gradients need precision bf16 or fp8, got precision " +
                                std::string(topologies::to_string(p.precision))};
    case Rule::framework_optimizer_dtype:
    case Rule::framework_zero:
    case Rule::framework_interleaved:
    case Rule::framework_cp:
    case Rule::framework_zero_with_pp:
    case Rule::framework_fp8_recipe:
    case Rule::framework_fp8_param_gather: return explain_framework(r, p);
  }
  return {"", "unknown rule"};
}

Plan resolve_plan(Plan p, const models::ModelSpec& model, const topologies::ClusterSpec& cluster,
                  const std::string& where) {
  const Plan given = p;
  const Rule r = check_plan(p, model, cluster);
  if (r == Rule::ok) return p;
  // Explain against the plan with its derived fields filled as far as the check got.
  const RuleBreach b = explain(r, p.dp == 0 ? given : p, model, cluster);
  throw core::InputError(where, b.field, b.message);
}

}  // namespace hpsim::planner
