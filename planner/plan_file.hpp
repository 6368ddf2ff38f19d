#pragma once
/// Self-contained plan files (model + cluster + plan) and validation files (cases with measured step times).
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "models/model_spec.hpp"
#include "planner/plan.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::planner {

/// A model given by preset name, path (relative to `base_dir`) or inline mapping.
models::ModelSpec model_from_ref(const YAML::Node& node, const std::string& where, const std::string& base_dir);
/// A cluster given by "preset[:nodes]", path (relative to `base_dir`) or inline mapping.
topologies::ClusterSpec cluster_from_ref(const YAML::Node& node, const std::string& where,
                                         const std::string& base_dir);

/// What a plan file holds; the plan is not yet resolved against the cluster.
struct PlanFile {
  models::ModelSpec model;
  topologies::ClusterSpec cluster;
  Plan plan;
  bool has_model = false, has_cluster = false;
};

/// Reads `model`, `cluster` (both optional here: the command line may give them) and `plan` (required).
PlanFile load_plan_file(const std::string& path);

/// One case of a validation file.
struct ValidationCase {
  std::string id;
  std::string source;
  models::ModelSpec model;
  topologies::ClusterSpec cluster;
  Plan plan;  ///< resolved
  double measured_step_time_s = 0;
};

/// Reads and checks every case (unique ids, positive measured times, plans valid for their cluster).
std::vector<ValidationCase> load_validation_file(const std::string& path);

}  // namespace hpsim::planner
