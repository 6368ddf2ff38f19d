#pragma once
/// What `hpsim plan` searches: the model, the cluster, the constraints, and how the user named the first two.
#include <string>

#include "models/model_spec.hpp"
#include "planner/search_space.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::apps {

struct PlanInputs {
  models::ModelSpec model;
  topologies::ClusterSpec cluster;
  planner::SearchSpace space;
  std::string model_ref;    ///< preset name or file, as given (a plan file refers to it)
  std::string cluster_ref;  ///< "preset:NODES" or file, as given
};

}  // namespace hpsim::apps
