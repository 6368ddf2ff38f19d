#pragma once
/// Self-contained plan files (model + cluster + plan) and validation files (cases with measured step times).
#include <functional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "models/model_spec.hpp"
#include "planner/plan.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::planner {

/// A model given by preset name, path (relative to `base_dir`) or inline mapping.
models::ModelSpec model_from_ref(const YAML::Node& node, const std::string& where, const std::string& base_dir);
/// Maps a cluster name as written (e.g. `localhost`) to what load_cluster takes (e.g. a calibration file); names
/// it does not know come back unchanged. Supplied by apps/, so that planner and topologies stay free of exec/.
using ClusterNameResolver = std::function<std::string(const std::string&)>;

/// A cluster given by "preset[:nodes]", path (relative to `base_dir`) or inline mapping; a scalar goes through
/// `resolve` first when given.
topologies::ClusterSpec cluster_from_ref(const YAML::Node& node, const std::string& where,
                                         const std::string& base_dir, const ClusterNameResolver& resolve = {});

/// What a plan file holds; the plan is not yet resolved against the cluster.
struct PlanFile {
  models::ModelSpec model;
  topologies::ClusterSpec cluster;
  Plan plan;
  bool has_model = false, has_cluster = false;
};

/// Reads `model`, `cluster` (both optional here: the command line may give them) and `plan` (required).
/// `resolve` maps a scalar `cluster` (e.g. `localhost`) before loading it.
PlanFile load_plan_file(const std::string& path, const ClusterNameResolver& resolve = {});

/// One case of a validation file.
struct ValidationCase {
  std::string id;
  std::string source;
  models::ModelSpec model;
  topologies::ClusterSpec cluster;
  Plan plan;  ///< resolved
  double measured_step_time_s = 0;
  /// The run's peak memory per GPU as its source reports it (PyTorch's max reserved: the caching allocator's
  /// segments, fragmentation included), in GiB; 0 when the source reports none.
  double measured_peak_memory_gib = 0;
  /// Why hpsim cannot express this case (its model, cluster or plan is refused), or empty. Such a case is reported
  /// with its reason, not predicted.
  std::string refused;
};

/// Reads every case: a file without a non-empty `cases` list, a case without a unique `id` or a positive
/// `measured_step_time_s` (or a `measured_peak_memory_gib` that is not positive) is an error; a case whose model,
/// cluster or plan hpsim refuses comes back `refused`.
std::vector<ValidationCase> load_validation_file(const std::string& path);

}  // namespace hpsim::planner
