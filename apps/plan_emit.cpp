#include "apps/plan_emit.hpp"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "apps/output.hpp"
#include "core/error.hpp"
#include "core/fields.hpp"

namespace hpsim::apps {

std::string megatron_arguments(const planner::Plan& p, const models::ModelSpec& model) {
  std::string a = fmt::format("--tensor-model-parallel-size {} --pipeline-model-parallel-size {}", p.tp, p.pp);
  if (p.vpp > 1) a += fmt::format(" --num-layers-per-virtual-pipeline-stage {}", model.num_layers / (p.pp * p.vpp));
  if (p.sp) a += " --sequence-parallel";
  a += fmt::format(" --context-parallel-size {}", p.cp);
  if (model.is_moe()) a += fmt::format(" --expert-model-parallel-size {}", p.ep);
  // Megatron has no ZeRO-2; its distributed optimizer shards optimizer states (and main gradients). ZeRO-3 is FSDP.
  if (p.zero == 3) a += " --use-torch-fsdp2";
  else if (p.zero >= 1) a += " --use-distributed-optimizer";
  if (p.recompute == models::Recompute::selective) a += " --recompute-granularity selective";
  if (p.recompute == models::Recompute::full)
    a += " --recompute-granularity full --recompute-method uniform --recompute-num-layers 1";
  // The simulator assumes these overlaps on by default; Megatron needs them asked for.
  if (p.overlap_grad_reduce && p.dp * p.cp > 1) a += " --overlap-grad-reduce";
  if (p.overlap_param_gather && (p.zero == 1 || p.zero == 2)) a += " --overlap-param-gather";
  if (p.tp_comm_overlap) a += " --tp-comm-overlap";
  if (p.flash_attention) a += " --use-flash-attn";
  a += fmt::format(" --micro-batch-size {} --global-batch-size {} --seq-length {}", p.micro_batch_size,
                   p.global_batch_size, p.seq_length);
  switch (p.precision) {
    case topologies::Precision::bf16: a += " --bf16"; break;
    case topologies::Precision::fp16: a += " --fp16"; break;
    case topologies::Precision::fp8: a += " --bf16 --fp8-format hybrid"; break;
    case topologies::Precision::fp32: break;
  }
  return a;
}

void write_plan_file(const std::string& path, const planner::Plan& plan, const std::string& model_ref,
                     const std::string& cluster_ref, const std::string& comment) {
  auto ref = [](const std::string& r) {
    return core::is_file(r) ? std::filesystem::absolute(r).lexically_normal().string() : r;
  };
  YAML::Node root(YAML::NodeType::Map);
  root["model"] = ref(model_ref);
  root["cluster"] = ref(cluster_ref);
  // Every key as the JSON output names it (the plan file's keys), each typed as in a hand-written file.
  const auto fields = plan_to_json(plan);
  for (const auto& [key, value] : fields.items()) {
    if (value.is_boolean()) root["plan"][key] = value.get<bool>();
    else if (value.is_number_integer()) root["plan"][key] = value.get<std::int64_t>();
    else root["plan"][key] = value.get<std::string>();
  }
  YAML::Emitter out;
  out << root;
  std::ofstream file(path);
  if (!file) throw core::InputError(path, "--emit plan", "cannot write the plan file");
  file << "# " << comment << "\n" << out.c_str() << "\n";
}

}  // namespace hpsim::apps
