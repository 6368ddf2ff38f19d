#pragma once
/// The listing commands: `hpsim models` and `hpsim clusters` (the built-in presets with their key figures) and
/// `hpsim keys` (every plan key from the plan field table, `--model` the model-file keys from the model field table,
/// `--cluster` the cluster-description keys from the cluster key table; `--format md` is docs/plan_keys.md,
/// docs/model_keys.md, docs/cluster_keys.md).
#include <string>

#include "apps/output.hpp"

namespace hpsim::apps {

std::string models_text(Format format);
std::string clusters_text(Format format);
std::string plan_keys_text(Format format);
std::string model_keys_text(Format format);
std::string cluster_keys_text(Format format);

}  // namespace hpsim::apps
