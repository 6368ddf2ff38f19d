#pragma once
/// What each framework that runs a plan can run (its rules), the plan keys it decides when a plan does not state
/// them (attention kernel, execution, FP8 recipe, the meaning of `recompute: selective`) and the ZeRO stages its
/// search tries. Its memory accounting is in parameters.hpp.
#include <array>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "planner/plan.hpp"
#include "planner/plan_fields.hpp"

namespace hpsim::planner {

inline constexpr std::string_view kFrameworkNames[] = {"megatron", "deepspeed", "fsdp"};  // Framework order
std::string_view to_string(Framework f);

/// The plan keys whose default is the framework's: an explicit key wins.
struct FrameworkDefaults {
  costs::AttentionKernel attention_backend;
  costs::Execution execution;
  costs::Fp8Recipe fp8_recipe;
};
FrameworkDefaults framework_defaults(Framework f);

/// The recomputation a framework runs for a plan's `recompute`: fsdp (torchtitan) has no attention-only policy, its
/// `selective` is per-op selective checkpointing (op_selective).
models::Recompute framework_recompute(Framework f, models::Recompute r);

/// The framework of a plan that names none: PyTorch FSDP for a fully sharded plan (ZeRO-3 is FSDP, and PyTorch's
/// FSDP2 runs most of them: torchtitan, NeMo AutoModel, Hugging Face accelerate), Megatron-LM otherwise. Megatron's
/// own ZeRO-3 (Megatron-FSDP) is run by stating `framework: megatron`.
Framework unstated_framework(std::int64_t zero);

/// Sets the framework's defaults (FrameworkDefaults) on the keys the plan does not state, as `stated` tells; the
/// framework itself first, when unstated (unstated_framework).
void apply_framework_defaults(Plan& plan, const std::function<bool(PlanKey)>& stated);

/// The ZeRO stages the search tries when the user does not bound `zero`: megatron 0, 1 (its ZeRO-3 is Megatron-FSDP,
/// run only when asked for), deepspeed 0-3, fsdp 0 (DDP), 2, 3.
std::vector<std::int64_t> framework_search_zero(Framework f);

/// The first rule of the plan's framework it breaks; Rule::ok when the framework can run it.
Rule check_framework(const Plan& plan);
/// The field and a message naming the framework, for one framework rule.
RuleBreach explain_framework(Rule rule, const Plan& plan);

}  // namespace hpsim::planner
