#include "planner/framework.hpp"

#include <string>

namespace hpsim::planner {

std::string_view to_string(Framework f) { return kFrameworkNames[static_cast<std::size_t>(f)]; }

FrameworkDefaults framework_defaults(Framework f) {
  using costs::AttentionKernel, costs::Execution, costs::Fp8Recipe;
  switch (f) {
    // Megatron-Core on Transformer Engine: TE's fused attention (cuDNN on Hopper), TE/Megatron fused kernels, TE's
    // default recipe (DelayedScaling; Megatron-LM core_v0.15.0 --fp8-recipe default 'delayed').
    case Framework::megatron: return {AttentionKernel::cudnn, Execution::fused, Fp8Recipe::delayed};
    // Megatron-DeepSpeed: Dao's FlashAttention-2 (--use-flash-attn-v2), Megatron's fused kernels, TE for FP8.
    case Framework::deepspeed: return {AttentionKernel::flash2, Execution::fused, Fp8Recipe::delayed};
    // torchtitan: PyTorch SDPA (its flash backend is FlashAttention-2), eager unless [training] compile is set,
    // torchao Float8 (recipe tensorwise: dynamic per-tensor scaling).
    case Framework::fsdp: return {AttentionKernel::flash2, Execution::eager, Fp8Recipe::tensorwise};
  }
  return {};
}

models::Recompute framework_recompute(Framework f, models::Recompute r) {
  return f == Framework::fsdp && r == models::Recompute::selective ? models::Recompute::op_selective : r;
}

Framework unstated_framework(std::int64_t zero) { return zero == 3 ? Framework::fsdp : Framework::megatron; }

void apply_framework_defaults(Plan& p, const std::function<bool(PlanKey)>& stated) {
  if (!stated(PlanKey::framework)) p.framework = unstated_framework(p.zero);
  const FrameworkDefaults d = framework_defaults(p.framework);
  if (!stated(PlanKey::attention_backend)) p.attention_backend = d.attention_backend;
  if (!stated(PlanKey::execution)) p.execution = d.execution;
  if (!stated(PlanKey::fp8_recipe)) p.fp8_recipe = d.fp8_recipe;
  p.recompute = framework_recompute(p.framework, p.recompute);
}

std::vector<std::int64_t> framework_search_zero(Framework f) {
  switch (f) {
    case Framework::megatron: return {0, 1};
    case Framework::deepspeed: return {0, 1, 2, 3};
    case Framework::fsdp: return {0, 2, 3};
  }
  return {0};
}

namespace {

/// The FP8 recipes a framework runs: Megatron-LM's --fp8-recipe choices (core_v0.15.0: tensorwise, delayed,
/// blockwise, mxfp8), Megatron-DeepSpeed's Transformer Engine delayed scaling, torchao's recipes in torchtitan
/// ([float8] recipe_name tensorwise, rowwise).
bool runs_fp8_recipe(Framework f, costs::Fp8Recipe r) {
  using costs::Fp8Recipe;
  switch (f) {
    case Framework::megatron: return r != Fp8Recipe::rowwise;
    case Framework::deepspeed: return r == Fp8Recipe::delayed;
    case Framework::fsdp: return r == Fp8Recipe::tensorwise || r == Fp8Recipe::rowwise;
  }
  return false;
}

/// FP8 weight gathering: Megatron-LM's --fp8-param-gather (any of its recipes), torchao's FSDP float8 all-gather
/// (tensorwise scaling only: torchao/float8/README.md); DeepSpeed has none.
bool runs_fp8_param_gather(const Plan& p) {
  if (p.precision != topologies::Precision::fp8) return false;
  return p.framework == Framework::megatron ||
         (p.framework == Framework::fsdp && p.fp8_recipe == costs::Fp8Recipe::tensorwise);
}

}  // namespace

Rule check_framework(const Plan& p) {
  if (p.precision == topologies::Precision::fp8 && !runs_fp8_recipe(p.framework, p.fp8_recipe))
    return Rule::framework_fp8_recipe;
  if (p.fp8_param_gather && !runs_fp8_param_gather(p)) return Rule::framework_fp8_param_gather;
  // 16-bit optimizer states: NeMo's distributed_fused_adam and Megatron's precision-aware optimizer; torchtitan's and
  // DeepSpeed's Adam keep fp32 states.
  if (p.optimizer_dtype == StateDtype::bf16 && p.framework != Framework::megatron)
    return Rule::framework_optimizer_dtype;
  switch (p.framework) {
    case Framework::megatron:
      // The distributed optimizer (ZeRO-1) keeps full-size gradient buffers: Megatron has no ZeRO-2.
      return p.zero == 2 ? Rule::framework_zero : Rule::ok;
    case Framework::deepspeed:
      // PipelineModule runs one stage per rank (no interleaving); context parallelism is not in Megatron-DeepSpeed;
      // DeepSpeed refuses ZeRO-2/3 with pipeline parallelism.
      if (p.vpp > 1) return Rule::framework_interleaved;
      if (p.cp > 1) return Rule::framework_cp;
      if (p.zero >= 2 && p.pp > 1) return Rule::framework_zero_with_pp;
      return Rule::ok;
    case Framework::fsdp:
      // FSDP2 shards parameters and gradients together; it has no optimizer-only sharding.
      return p.zero == 1 ? Rule::framework_zero : Rule::ok;
  }
  return Rule::ok;
}

RuleBreach explain_framework(Rule r, const Plan& p) {
  const std::string fw(to_string(p.framework));
  switch (r) {
    case Rule::framework_zero:
      if (p.framework == Framework::megatron)
        return {"zero", "framework megatron cannot run ZeRO-2 (its distributed optimizer keeps full-size gradient "
                        "buffers): use zero 0, 1 or 3 (Megatron-FSDP), or framework deepspeed or fsdp"};
      return {"zero", "framework " + fw + " has no ZeRO-1 (FSDP2 shards gradients with the optimizer states): use "
                      "zero 0, 2 or 3, or framework megatron or deepspeed"};
    case Rule::framework_interleaved:
      return {"vpp", "framework " + fw + " has no interleaved pipeline schedule (PipelineModule): use vpp 1"};
    case Rule::framework_cp: return {"cp", "framework " + fw + " has no context parallelism: use cp 1"};
    case Rule::framework_zero_with_pp:
      return {"zero", "framework " + fw + " cannot combine ZeRO-2/3 with pipeline parallelism: use zero 0 or 1 with pp > 1"};
    case Rule::framework_fp8_recipe: {
      std::string runs;
      for (std::size_t i = 0; i < std::size(costs::kFp8RecipeNames); ++i)
        if (runs_fp8_recipe(p.framework, static_cast<costs::Fp8Recipe>(i)))
          runs += (runs.empty() ? "" : ", ") + std::string(costs::kFp8RecipeNames[i]);
      return {"fp8_recipe", "framework " + fw + " runs FP8 with " + runs + ", got " +
                                std::string(costs::kFp8RecipeNames[static_cast<std::size_t>(p.fp8_recipe)])};
    }
    case Rule::framework_fp8_param_gather:
      return {"fp8_param_gather", "needs precision fp8 with framework megatron, or with framework fsdp and "
                                  "fp8_recipe tensorwise; got precision " +
                                      std::string(topologies::to_string(p.precision)) + ", framework " + fw};
    case Rule::framework_optimizer_dtype:
      return {"optimizer_dtype", "framework " + fw + " keeps fp32 optimizer states; bf16 states need framework "
                                 "megatron (NeMo's distributed_fused_adam, Megatron's precision-aware optimizer)"};
    default: return {"framework", "unknown framework rule"};
  }
}

}  // namespace hpsim::planner
