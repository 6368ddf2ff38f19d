#include "planner/plan_file.hpp"

#include <filesystem>
#include <set>

#include "core/error.hpp"
#include "core/fields.hpp"

namespace hpsim::planner {

namespace {

std::string resolve_path(const std::string& spec, const std::string& base_dir) {
  if (base_dir.empty() || std::filesystem::path(spec).is_absolute()) return spec;
  const auto candidate = (std::filesystem::path(base_dir) / spec).string();
  return core::is_file(candidate) ? candidate : spec;
}

std::string directory_of(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

}  // namespace

models::ModelSpec model_from_ref(const YAML::Node& node, const std::string& where, const std::string& base_dir) {
  if (node.IsScalar()) return models::load_model(resolve_path(node.Scalar(), base_dir));
  if (node.IsMap()) return models::model_from_fields(core::Fields(node, where));
  throw core::InputError(where, "", "expected a model preset name, a model file path or a mapping of model keys");
}

topologies::ClusterSpec cluster_from_ref(const YAML::Node& node, const std::string& where,
                                         const std::string& base_dir, const ClusterNameResolver& resolve) {
  if (node.IsScalar()) {
    const std::string name = resolve ? resolve(node.Scalar()) : node.Scalar();
    return topologies::load_cluster(resolve_path(name, base_dir));
  }
  if (node.IsMap()) return topologies::cluster_from_fields(core::Fields(node, where));
  throw core::InputError(where, "", "expected a cluster preset (name:nodes), a cluster file path or a mapping");
}

PlanFile load_plan_file(const std::string& path, const ClusterNameResolver& resolve) {
  const core::Fields f(core::load_yaml_file(path), path);
  f.reject_unknown_keys({"model", "cluster", "plan"});
  const std::string base = directory_of(path);
  PlanFile out;
  if (f.has("model")) {
    out.model = model_from_ref(f.node()["model"], path + ": model", base);
    out.has_model = true;
  }
  if (f.has("cluster")) {
    out.cluster = cluster_from_ref(f.node()["cluster"], path + ": cluster", base, resolve);
    out.has_cluster = true;
  }
  out.plan = plan_from_fields(f.child("plan"));
  return out;
}

std::vector<ValidationCase> load_validation_file(const std::string& path) {
  const core::Fields f(core::load_yaml_file(path), path);
  f.reject_unknown_keys({"cases"});
  const YAML::Node cases = f.node()["cases"];
  if (!cases.IsDefined() || !cases.IsSequence() || cases.size() == 0)
    f.fail("cases", "expected a non-empty list of cases");
  const std::string base = directory_of(path);
  std::vector<ValidationCase> out;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string where = path + ": cases[" + std::to_string(i) + "]";
    const core::Fields c(cases[i], where);
    c.reject_unknown_keys(
        {"id", "source", "model", "cluster", "plan", "measured_step_time_s", "measured_peak_memory_gib"});
    ValidationCase v;
    v.id = c.string("id");
    if (!ids.insert(v.id).second) c.fail("id", "expected unique ids, '" + v.id + "' appears twice");
    v.source = c.string_or("source", "");
    v.measured_step_time_s = c.positive_number("measured_step_time_s");
    if (c.has("measured_peak_memory_gib")) v.measured_peak_memory_gib = c.positive_number("measured_peak_memory_gib");
    if (!c.has("model")) c.fail("model", "missing (required)");
    if (!c.has("cluster")) c.fail("cluster", "missing (required)");
    if (!c.has("plan")) c.fail("plan", "missing (required)");
    try {
      v.model = model_from_ref(c.node()["model"], where + ": model", base);
      v.cluster = cluster_from_ref(c.node()["cluster"], where + ": cluster", base);
      v.plan = resolve_plan(plan_from_fields(c.child("plan")), v.model, v.cluster, where + ": plan");
    } catch (const core::InputError& e) {
      v.refused = e.what();
      const std::string prefix = where + ": ";  // the case is named beside its reason already
      if (v.refused.rfind(prefix, 0) == 0) v.refused.erase(0, prefix.size());
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace hpsim::planner
