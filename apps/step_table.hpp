#pragma once
/// One simulated step as a table of quantity, value and unit: what `simulate --format csv|md` prints.
#include "apps/output.hpp"

namespace hpsim::apps {

/// The step's figures, one row each (model, cluster, every plan key, times, throughput, breakdown, memory).
TextTable step_to_table(const planner::StepResult& r, const models::ModelSpec& model,
                        const topologies::ClusterSpec& cluster);

}  // namespace hpsim::apps
