#include "exec/run_file.hpp"

#include <filesystem>

#include "core/fields.hpp"
#include "planner/plan_file.hpp"

namespace hpsim::exec {

RunFile load_run_file(const std::string& path, const std::map<std::string, std::string>& plan_overrides) {
  const core::Fields f(core::load_yaml_file(path), path);
  f.reject_unknown_keys({"model", "cluster", "plan"});
  RunFile out;
  if (!f.has("model")) f.fail("model", "missing (required)");
  const std::string base = std::filesystem::path(path).parent_path().string();
  out.model = planner::model_from_ref(f.node()["model"], path + ": model", base);
  if (f.has("cluster") && f.node()["cluster"].IsScalar()) out.cluster = f.node()["cluster"].Scalar();
  YAML::Node plan = YAML::Clone(f.child("plan").node());
  for (const auto& [key, text] : plan_overrides) plan[key] = text;
  out.plan = planner::plan_from_fields(core::Fields(plan, path + ": plan"));
  return out;
}

}  // namespace hpsim::exec
