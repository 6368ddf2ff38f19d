#pragma once
/// What every prediction and search is about: a model on a cluster, with the cluster's collective coster built
/// once. Callers predict (simulate_step) and search (search_plans) with a Scenario; it is cheap to copy.
#include <memory>

#include "models/model_spec.hpp"
#include "topologies/cluster_spec.hpp"
#include "costs/collectives.hpp"

namespace hpsim::planner {

class Scenario {
 public:
  Scenario(models::ModelSpec model, topologies::ClusterSpec cluster)
      : model_(std::move(model)),
        coster_(std::make_shared<const costs::CollectiveCoster>(std::move(cluster))) {}

  [[nodiscard]] const models::ModelSpec& model() const { return model_; }
  [[nodiscard]] const topologies::ClusterSpec& cluster() const { return coster_->cluster(); }
  [[nodiscard]] const costs::CollectiveCoster& coster() const { return *coster_; }
  /// On a mixed cluster, whether plans without a split key get their layers by stage speed (mixed_cluster.hpp);
  /// false: split as on a homogeneous cluster (the comparison `plan` reports).
  [[nodiscard]] bool speed_split() const { return speed_split_; }
  [[nodiscard]] Scenario with_speed_split(bool on) const {
    Scenario s = *this;
    s.speed_split_ = on;
    return s;
  }

 private:
  models::ModelSpec model_;
  std::shared_ptr<const costs::CollectiveCoster> coster_;  ///< holds the cluster it costs
  bool speed_split_ = true;
};

}  // namespace hpsim::planner
