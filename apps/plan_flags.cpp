#include "apps/plan_flags.hpp"

namespace hpsim::apps {

void add_plan_field_flags(CLI::App* cmd, std::map<std::string, std::string>& values,
                          const std::function<std::string(const planner::PlanField&)>& help) {
  for (const auto& f : planner::plan_field_table()) {
    const std::string key(f.key);
    auto* option = cmd->add_option_function<std::string>(
        std::string(f.flag), [&values, key](const std::string& v) { values[key] = v.empty() ? "true" : v; },
        help(f));
    option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a later flag overrides an earlier one
    if (f.type == planner::FieldType::boolean) option->expected(0, 1);
  }
}

void add_model_cluster_options(CLI::App* cmd, std::string& model, std::string& cluster) {
  cmd->add_option("--model", model, "preset name, model file or Hugging Face config.json");
  cmd->add_option("--cluster", cluster, "preset NAME:NODES or cluster file");
}

void PlanFieldFlags::add(CLI::App* cmd) {
  add_plan_field_flags(cmd, values, [](const planner::PlanField& f) {
    const std::string expects = planner::field_expectation(f);
    return std::string(f.help) + ": " + expects + " (default " + std::string(f.default_text) +
           (f.type == planner::FieldType::boolean ? "; alone: true)" : ")");
  });
}

void PlanFieldFlags::apply(YAML::Node& plan) const {
  for (const auto& [key, text] : values) plan[key] = text;
}

}  // namespace hpsim::apps
