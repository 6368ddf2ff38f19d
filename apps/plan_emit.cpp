#include "apps/plan_emit.hpp"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "apps/output.hpp"
#include "core/error.hpp"
#include "core/fields.hpp"
#include "planner/pipeline_split.hpp"
#include "planner/plan_fields.hpp"

namespace hpsim::apps {

std::string megatron_arguments(const planner::Plan& p, const models::ModelSpec& model) {
  std::string a;
  // The fields Megatron-LM takes one to one (plan field table), in the table's order.
  for (const auto& f : planner::plan_field_table()) {
    if (f.megatron_flag.empty()) continue;
    const std::int64_t v = f.get(p);
    if (f.type == planner::FieldType::boolean) {
      if (v != 0) a += fmt::format(" {}", f.megatron_flag);
    } else {
      a += fmt::format(" {} {}", f.megatron_flag, planner::field_value_text(f, v));
    }
  }
  // The fields whose Megatron form depends on more than their own value.
  // An uneven split: Megatron takes the first/last stage counts as they are (the accounted embedding/loss are table
  // flags) and its interleaving depth as stages per rank, since layers per virtual stage are no longer one number
  // (megatron/training/arguments.py asks for --num-virtual-stages-per-pipeline-rank with uneven stages).
  if (p.decoder_first_pipeline_num_layers > 0)
    a += fmt::format(" --decoder-first-pipeline-num-layers {}", p.decoder_first_pipeline_num_layers);
  if (p.decoder_last_pipeline_num_layers > 0)
    a += fmt::format(" --decoder-last-pipeline-num-layers {}", p.decoder_last_pipeline_num_layers);
  if (p.vpp > 1 && planner::split_keys_given(p)) a += fmt::format(" --num-virtual-stages-per-pipeline-rank {}", p.vpp);
  else if (p.vpp > 1)
    a += fmt::format(" --num-layers-per-virtual-pipeline-stage {}", model.num_layers / (p.pp * p.vpp));
  if (model.is_moe()) {
    a += fmt::format(" --expert-model-parallel-size {} --expert-tensor-parallel-size {}", p.ep, p.expert_tp());
    a += fmt::format(" --moe-token-dispatcher-type {}",
                     planner::kMoeDispatcherNames[static_cast<std::size_t>(p.moe_token_dispatcher)]);
    if (p.moe_grouped_gemm) a += " --moe-grouped-gemm";
    if (p.moe_expert_capacity_factor > 0) a += fmt::format(" --moe-expert-capacity-factor {:g}", p.moe_expert_capacity_factor);
    if (p.moe_pad_expert_input_to_capacity) a += " --moe-pad-expert-input-to-capacity";
  }
  // Megatron has no ZeRO-2 (planner/framework.hpp); its distributed optimizer shards the optimizer states. ZeRO-3 is
  // Megatron-FSDP sharding optimizer states, gradients and parameters (core_v0.15.0 arguments.py).
  if (p.zero == 3) a += " --use-megatron-fsdp --data-parallel-sharding-strategy optim_grads_params";
  else if (p.zero >= 1) a += " --use-distributed-optimizer";
  if (p.recompute == models::Recompute::selective) a += " --recompute-granularity selective";
  if (p.recompute == models::Recompute::full)
    a += " --recompute-granularity full --recompute-method uniform --recompute-num-layers 1";
  // The simulator assumes these overlaps on by default; Megatron needs them asked for.
  if (p.overlap_grad_reduce && p.dp * p.cp > 1) a += " --overlap-grad-reduce";
  if (p.overlap_param_gather && (p.zero == 1 || p.zero == 2)) a += " --overlap-param-gather";
  if (p.grad_dtype == planner::StateDtype::bf16) a += " --grad-reduce-in-bf16";
  // Megatron's precision-aware optimizer takes 16-bit master weights as fp16 (its --main-params-dtype choices).
  if (p.optimizer_dtype == planner::StateDtype::bf16)
    a += " --use-precision-aware-optimizer --main-params-dtype fp16 --exp-avg-dtype bf16 --exp-avg-sq-dtype bf16";
  switch (p.precision) {
    case topologies::Precision::bf16: a += " --bf16"; break;
    case topologies::Precision::fp16: a += " --fp16"; break;
    case topologies::Precision::fp8:
      a += fmt::format(" --bf16 --fp8-format hybrid --fp8-recipe {}",
                       costs::kFp8RecipeNames[static_cast<std::size_t>(p.fp8_recipe)]);
      break;
    case topologies::Precision::fp32: break;
  }
  return a.empty() ? a : a.substr(1);
}

void write_plan_file(const std::string& path, const planner::Plan& plan, const std::string& model_ref,
                     const std::string& cluster_ref, const std::string& comment) {
  auto ref = [](const std::string& r) {
    return core::is_file(r) ? std::filesystem::absolute(r).lexically_normal().string() : r;
  };
  YAML::Node root(YAML::NodeType::Map);
  root["model"] = ref(model_ref);
  root["cluster"] = ref(cluster_ref);
  root["plan"] = planner::plan_to_node(plan);
  YAML::Emitter out;
  out << root;
  std::ofstream file(path);
  if (!file) throw core::InputError(path, "--emit plan", "cannot write the plan file");
  file << "# " << comment << "\n" << out.c_str() << "\n";
}

}  // namespace hpsim::apps
