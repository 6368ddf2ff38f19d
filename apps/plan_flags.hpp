#pragma once
/// The command-line flag of every plan field (planner/plan_fields.hpp), registered from the table, so that
/// simulate, plan and run accept the same flags and report a bad value with the same error as a plan file.
#include <functional>
#include <map>
#include <string>

#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

#include "planner/plan_fields.hpp"

namespace hpsim::apps {

/// Registers one option per plan field on `cmd`, recording each given value as text under its key in `values`
/// (a boolean flag alone records "true"); `help` words each field's help text.
void add_plan_field_flags(CLI::App* cmd, std::map<std::string, std::string>& values,
                          const std::function<std::string(const planner::PlanField&)>& help);

/// --model and --cluster, as simulate and plan take them.
void add_model_cluster_options(CLI::App* cmd, std::string& model, std::string& cluster);

/// Plan fields given as flags (simulate, run): each overrides the plan file's value of its key.
struct PlanFieldFlags {
  std::map<std::string, std::string> values;  ///< key -> text as given
  void add(CLI::App* cmd);
  /// Writes the given values over `plan` (a plan file's `plan` mapping), to be read by plan_from_fields.
  void apply(YAML::Node& plan) const;
};

}  // namespace hpsim::apps
