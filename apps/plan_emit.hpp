#pragma once
/// What `hpsim plan --emit` hands on: the best plan as Megatron-LM arguments, or as a plan file for simulate/run.
#include <string>

#include "models/model_spec.hpp"
#include "planner/plan.hpp"

namespace hpsim::apps {

/// One line of Megatron-LM arguments for `plan` (resolved).
std::string megatron_arguments(const planner::Plan& plan, const models::ModelSpec& model);

/// Writes a self-contained plan file (model, cluster, every plan key) that `hpsim simulate --plan` accepts. Files
/// among the references are written as absolute paths, so the plan file works from any directory.
void write_plan_file(const std::string& path, const planner::Plan& plan, const std::string& model_ref,
                     const std::string& cluster_ref, const std::string& comment);

}  // namespace hpsim::apps
