#pragma once
/// The run file `hpsim run --plan` reads: model, plan and the cluster's name. No MPI: hpsim checks it too.
#include <map>
#include <string>

#include "models/model_spec.hpp"
#include "planner/plan.hpp"

namespace hpsim::exec {

/// A run file (examples/run/*.yaml): the model (preset, path or inline) and plan; the cluster is left as written
/// (`localhost` means this machine's calibration, which the caller resolves).
struct RunFile {
  models::ModelSpec model;
  planner::Plan plan;
  std::string cluster;  ///< the `cluster` scalar, or "" when absent or a mapping
};
/// `plan_overrides` (plan key -> value as text, e.g. from `hpsim run --tp 2`) replace the file's values.
RunFile load_run_file(const std::string& path, const std::map<std::string, std::string>& plan_overrides = {});

}  // namespace hpsim::exec
