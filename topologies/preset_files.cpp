#include "topologies/preset_files.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::topologies::detail {

namespace {
std::string stem(std::string_view file) {
  const auto dot = file.rfind('.');
  return std::string(file.substr(0, dot));
}

std::string kind_of(const YAML::Node& node) {
  if (!node.IsMap() || !node["kind"] || !node["kind"].IsScalar()) return "";
  return node["kind"].Scalar();
}
}  // namespace

std::string preset_where(const std::string& name) { return "preset " + name + ".yaml"; }

std::optional<YAML::Node> find_preset(const std::string& kind, const std::string& name) {
  for (const auto& file : topology_preset_files()) {
    if (stem(file.name) != name) continue;
    YAML::Node node = core::parse_yaml_text(std::string(file.text), preset_where(name));
    if (kind_of(node) == kind) return node;
  }
  return std::nullopt;
}

core::Fields base_fields(const std::string& key) {
  const auto node = find_preset("base", "base");
  if (!node || !(*node)[key]) throw core::InputError(preset_where("base"), key, "missing from this build");
  return core::Fields((*node)[key], preset_where("base") + ": " + key);
}

std::vector<std::string> preset_names(const std::string& kind) {
  std::vector<std::string> names;
  for (const auto& file : topology_preset_files()) {
    const std::string name = stem(file.name);
    if (kind_of(core::parse_yaml_text(std::string(file.text), preset_where(name))) == kind) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void reject_unknown_keys(const core::Fields& fields, const std::vector<std::string>& allowed) {
  fields.reject_unknown_keys(allowed);
}

}  // namespace hpsim::topologies::detail
