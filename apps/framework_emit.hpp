#pragma once
/// What `hpsim plan --emit deepspeed` and `--emit torchtitan` hand on: the best plan as a DeepSpeed config (with the
/// Megatron-DeepSpeed arguments that set its model parallelism) or as a torchtitan TOML job config.
#include <string>

#include <nlohmann/json.hpp>

#include "models/model_spec.hpp"
#include "planner/plan.hpp"

namespace hpsim::apps {

/// DeepSpeed's JSON config for `plan` (resolved): batch sizes, ZeRO stage, mixed precision.
nlohmann::json deepspeed_config(const planner::Plan& plan);
/// The Megatron-DeepSpeed arguments that go with it (tp, pp, batch, recomputation), naming ds_config.json.
std::string megatron_deepspeed_arguments(const planner::Plan& plan);

/// torchtitan's TOML job config for `plan` (resolved): [model], [training], [parallelism], [activation_checkpoint],
/// [float8].
std::string torchtitan_toml(const planner::Plan& plan, const models::ModelSpec& model);

}  // namespace hpsim::apps
