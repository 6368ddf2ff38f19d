#include "apps/validate_command.hpp"

#include <iostream>

#include "planner/plan_file.hpp"
#include "planner/validation.hpp"

namespace hpsim::apps {

CLI::App* add_validate_command(CLI::App& app, ValidateArgs& a) {
  auto* cmd = app.add_subcommand("validate", "predict every case of a validation file beside its measurement");
  cmd->add_option("file", a.file, "validation file (YAML)")->required();
  cmd->add_flag("--planner", a.planner,
                "also plan each case (same model, GPUs, batch): the best plan, and the case's plan ranked among "
                "plans with its features");
  return cmd;
}

int run_validate_command(const ValidateArgs& a, Format format) {
  const std::string& file = a.file;
  const bool with_planner = a.planner;
  const auto cases = planner::load_validation_file(file);
  const auto report = planner::validate_cases(cases);
  const auto quality = with_planner ? planner::plan_quality(cases, report) : std::vector<planner::PlanQuality>{};
  if (format == Format::json) {
    auto j = validation_to_json(report);
    if (with_planner) j["planner"] = plan_quality_to_json(quality);
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << validation_to_text(report, format);
    if (with_planner) std::cout << "\n" << plan_quality_to_text(quality, format);
  }
  if (report.refused.empty()) return 0;
  std::cerr << "hpsim: error: " << file << ": " << report.refused.size() << " of "
            << report.refused.size() + report.cases.size() << " cases refused (first: " << report.refused.front().reason
            << ")\n";
  return 2;
}

}  // namespace hpsim::apps
