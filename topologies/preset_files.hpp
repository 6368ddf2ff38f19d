#pragma once
/// Internal: finding the compiled-in preset files by kind and name.
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/fields.hpp"

namespace hpsim::topologies::detail {

/// The parsed preset `name` of `kind` ("gpu" or "cluster"), or nothing.
std::optional<YAML::Node> find_preset(const std::string& kind, const std::string& name);
/// The `key` mapping ("cluster" or "gpu") of presets/base.yaml, what every description starts from.
core::Fields base_fields(const std::string& key);
/// Names of the presets of `kind`, sorted.
std::vector<std::string> preset_names(const std::string& kind);
/// "a, b, c" for error messages.
std::string join_names(const std::vector<std::string>& names);
/// Where a preset's errors point: "preset NAME.yaml".
std::string preset_where(const std::string& name);
/// Throws InputError(where, key, ...) for the first key of `fields` not in `allowed` (catches typos).
void reject_unknown_keys(const core::Fields& fields, const std::vector<std::string>& allowed);

}  // namespace hpsim::topologies::detail
