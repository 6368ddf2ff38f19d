#pragma once
/// `hpsim plan`: search the plan space of a model on a cluster, print the best plans and why, sweep what-ifs.
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "apps/output.hpp"
#include "apps/plan_constraints.hpp"

namespace hpsim::apps {

/// The command line as given; numbers stay text so that a bad one is reported naming its flag.
struct PlanArgs {
  std::string model, cluster, gpus, top = "10", threads;
  ConstraintFlags constraints;
  std::vector<std::string> sets;  ///< --set KEY=V1,V2,... (repeatable)
  std::vector<std::string> emit;  ///< "megatron" and/or "plan FILE"
  std::string csv_file;
  std::string train_tokens;  ///< --train-tokens: the whole run of each plan listed
  std::string rank_by = "step-time";  ///< --rank-by: step-time or time-to-train (with --train-tokens)
  std::string html_file;  ///< --html FILE: a self-contained HTML report of the plans (apps/html_report_plan.hpp)
};

/// Registers `plan` and its flags on `app`.
CLI::App* add_plan_command(CLI::App& app, PlanArgs& args);

/// Runs it; returns the exit status (errors are thrown: InputError exit 2, InfeasibleError exit 3).
int run_plan_command(const PlanArgs& args, Format format);

}  // namespace hpsim::apps
