#include "apps/framework_emit.hpp"

#include <fmt/format.h>

#include "planner/pipeline_split.hpp"

namespace hpsim::apps {

using models::Recompute;
using topologies::Precision;

nlohmann::json deepspeed_config(const planner::Plan& p) {
  // Key names: deepspeed/runtime/constants.py and zero/config.py (DeepSpeed v0.19.5). train_batch_size is
  // micro-batch * accumulation steps * data-parallel ranks, as DeepSpeed checks it.
  nlohmann::json j = {{"train_batch_size", p.global_batch_size},
                      {"train_micro_batch_size_per_gpu", p.micro_batch_size},
                      {"gradient_accumulation_steps", p.micro_batches()},
                      {"zero_optimization",
                       {{"stage", p.zero}, {"overlap_comm", p.overlap_grad_reduce}, {"contiguous_gradients", true}}}};
  if (p.precision == Precision::fp16) j["fp16"] = {{"enabled", true}};
  if (p.precision == Precision::bf16 || p.precision == Precision::fp8) j["bf16"] = {{"enabled", true}};
  // bf16 gradients: accumulated (data_types.grad_accum_dtype) and reduced (communication_data_type) in bf16.
  if (p.grad_dtype == planner::StateDtype::bf16) {
    j["data_types"] = {{"grad_accum_dtype", "bf16"}};
    j["communication_data_type"] = "bf16";
  }
  return j;
}

std::string megatron_deepspeed_arguments(const planner::Plan& p) {
  // Megatron-DeepSpeed's megatron/arguments.py: its pipeline is DeepSpeed's PipelineModule, switched off for pp 1.
  std::string a = fmt::format("--tensor-model-parallel-size {} --pipeline-model-parallel-size {}", p.tp, p.pp);
  if (p.pp == 1) a += " --no-pipeline-parallel";
  if (p.sp) a += " --sequence-parallel";
  a += fmt::format(" --micro-batch-size {} --global-batch-size {} --seq-length {}", p.micro_batch_size,
                   p.global_batch_size, p.seq_length);
  if (p.flash_attention) a += " --use-flash-attn-v2";
  if (p.recompute == Recompute::selective) a += " --recompute-granularity selective";
  if (p.recompute == Recompute::full)
    a += " --recompute-granularity full --recompute-method uniform --recompute-num-layers 1";
  if (p.precision == Precision::fp16) a += " --fp16";
  if (p.precision == Precision::bf16 || p.precision == Precision::fp8) a += " --bf16";
  return a + " --deepspeed --deepspeed_config ds_config.json";
}

namespace {

std::string toml_bool(bool b) { return b ? "true" : "false"; }

/// torchtitan's schedule names (torch.distributed.pipelining): a looped schedule when there are virtual stages.
std::string pipeline_schedule(const planner::Plan& p) {
  if (p.vpp > 1) return "Interleaved1F1B";
  return p.schedule == planner::Schedule::gpipe ? "GPipe" : "1F1B";
}

}  // namespace

std::string torchtitan_toml(const planner::Plan& p, const models::ModelSpec& model) {
  const bool fp8 = p.precision == Precision::fp8;
  std::string t = "[model]\n";
  if (fp8) t += "converters = [\"float8\"]\n";
  // torchtitan's local batch is a rank's whole share of the step; without a pipeline each micro-batch is one
  // forward/backward and the rest is gradient accumulation (global / (local * dp)), with one the pipeline cuts the
  // local batch into micro-batches.
  const std::int64_t local = p.pp > 1 ? p.micro_batch_size * p.micro_batches() : p.micro_batch_size;
  t += fmt::format("\n[training]\nlocal_batch_size = {}\nglobal_batch_size = {}\nseq_len = {}\n", local,
                   p.global_batch_size, p.seq_length);
  t += fmt::format("mixed_precision_param = \"{}\"\n", p.precision == Precision::fp32 ? "float32" : "bfloat16");
  if (p.grad_dtype == planner::StateDtype::bf16) t += "mixed_precision_reduce = \"bfloat16\"\n";
  t += fmt::format("compile = {}\n", toml_bool(p.execution != costs::Execution::eager));
  // zero 3: FULL_SHARD (reshard after forward), 2: SHARD_GRAD_OP (keep the gathered weights), 0: DDP.
  t += "\n[parallelism]\n";
  if (p.zero == 0) t += fmt::format("data_parallel_replicate_degree = {}\ndata_parallel_shard_degree = 1\n", p.dp);
  else
    t += fmt::format("data_parallel_replicate_degree = 1\ndata_parallel_shard_degree = {}\nfsdp_reshard_after_forward = "
                     "\"{}\"\n", p.dp, p.zero == 3 ? "always" : "never");
  t += fmt::format("tensor_parallel_degree = {}\n", p.tp);
  if (p.tp > 1) t += fmt::format("enable_async_tensor_parallel = {}\n", toml_bool(p.tp_comm_overlap));
  t += fmt::format("context_parallel_degree = {}\npipeline_parallel_degree = {}\n", p.cp, p.pp);
  if (model.is_moe()) t += fmt::format("expert_parallel_degree = {}\n", p.ep);
  if (p.pp > 1) {
    t += fmt::format("pipeline_parallel_schedule = \"{}\"\npipeline_parallel_microbatch_size = {}\n",
                     pipeline_schedule(p), p.micro_batch_size);
    // Where each virtual stage after the first begins, as torchtitan names the modules: every split hpsim runs.
    const planner::PipelineSplit split(p, model.num_layers);
    std::string points;
    std::int64_t begin = 0;
    for (std::int64_t vs = 0; vs + 1 < split.virtual_stages(); ++vs) {
      begin += split.layers(vs);
      points += fmt::format("{}\"layers.{}\"", points.empty() ? "" : ", ", begin);
    }
    t += "pipeline_parallel_split_points = [" + points + "]\n";
  }
  t += "\n[activation_checkpoint]\n";
  switch (p.recompute) {
    case Recompute::none: t += "mode = \"none\"\n"; break;
    case Recompute::full: t += "mode = \"full\"\n"; break;
    case Recompute::selective:  // fsdp reads selective as per-op (planner/framework.hpp)
    case Recompute::op_selective: t += "mode = \"selective\"\nselective_ac_option = \"op\"\n"; break;
  }
  if (fp8) {
    t += fmt::format("\n[float8]\nrecipe_name = \"{}\"\n", costs::kFp8RecipeNames[static_cast<std::size_t>(p.fp8_recipe)]);
    // FP8 weight gathering under FSDP (tensorwise only), with torchtitan's advice: one scale computation for all.
    if (p.fp8_param_gather)
      t += "enable_fsdp_float8_all_gather = true\nprecompute_float8_dynamic_scale_for_fsdp = true\n";
  }
  return t;
}

}  // namespace hpsim::apps
