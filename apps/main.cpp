// hpsim: predict, plan and validate hybrid-parallel LLM training. Thin: parse, call, print.
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>

#include "apps/catalog_command.hpp"
#include "apps/executor_handover.hpp"
#include "apps/plan_command.hpp"
#include "apps/report_command.hpp"
#include "apps/run_preflight.hpp"
#include "apps/simulate_command.hpp"
#include "apps/validate_command.hpp"
#include "core/error.hpp"

namespace {

using namespace hpsim;
using apps::Format;

const std::map<std::string, Format> kFormats = {
    {"table", Format::table}, {"json", Format::json}, {"csv", Format::csv}, {"md", Format::md}};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hpsim: predict, plan and validate hybrid-parallel LLM training on a described cluster"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::function<std::string()>(apps::version_text),
                       "print the version, git commit, build type and the executor's backends (run, calibrate)");
  std::string format_text = "table";
  auto add_format = [&](CLI::App* sub) {
    sub->add_option("--format", format_text, "output: table, json, csv or md")
        ->check(CLI::IsMember({"table", "json", "csv", "md"}));
  };

  auto* models_cmd = app.add_subcommand("models", "list the built-in model presets");
  add_format(models_cmd);
  auto* clusters_cmd = app.add_subcommand("clusters", "list the built-in cluster presets");
  add_format(clusters_cmd);
  auto* keys_cmd = app.add_subcommand("keys", "list the plan keys: flag, values, default, whether plan searches them");
  bool model_keys = false, cluster_keys = false;
  auto* model_flag = keys_cmd->add_flag("--model", model_keys, "list the model-file keys instead");
  keys_cmd->add_flag("--cluster", cluster_keys, "list the cluster-file keys (fabric, GPU, calibration) instead")
      ->excludes(model_flag);
  add_format(keys_cmd);

  apps::SimulateArgs sim_args;
  auto* simulate_cmd = apps::add_simulate_command(app, sim_args);
  add_format(simulate_cmd);

  apps::PlanArgs plan_args;
  auto* plan_cmd = apps::add_plan_command(app, plan_args);
  add_format(plan_cmd);

  apps::ValidateArgs validate_args;
  auto* validate_cmd = apps::add_validate_command(app, validate_args);
  add_format(validate_cmd);

  apps::ReportArgs report_args;
  auto* report_cmd = apps::add_report_command(app, report_args);
  add_format(report_cmd);

  apps::ExecutorCommands executor_cmds;  // run and calibrate: handed over to hpsim-run
  apps::add_executor_commands(app, executor_cmds, add_format);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "hpsim: error: command line: " << e.what() << "\n";  // one line, as for every bad input
    return 2;
  }
  try {
    const Format format = kFormats.at(format_text);
    if (*models_cmd) return std::cout << apps::models_text(format), 0;
    if (*clusters_cmd) return std::cout << apps::clusters_text(format), 0;
    if (*keys_cmd)
      return std::cout << (model_keys     ? apps::model_keys_text(format)
                           : cluster_keys ? apps::cluster_keys_text(format)
                                          : apps::plan_keys_text(format)),
             0;
    if (*simulate_cmd) return apps::run_simulate_command(sim_args, format);
    if (*plan_cmd) return apps::run_plan_command(plan_args, format);
    if (*validate_cmd) return apps::run_validate_command(validate_args, format);
    if (*executor_cmds.run) {
      // Refused by every rank before hpsim-run starts; the one line from rank 0 alone.
      const apps::LauncherWorld world = apps::launcher_world();
      try {
        apps::check_run_before_handover(executor_cmds.run_args, world);
      } catch (const core::InputError& e) {
        if (world.rank == 0) std::cerr << "hpsim: error: " << e.what() << "\n";
        return 2;
      }
      return apps::hand_over_to_executor("run", argv);
    }
    if (*report_cmd) return apps::run_report_command(report_args, format);
    if (*executor_cmds.calibrate) return apps::hand_over_to_executor("calibrate", argv);
  } catch (const core::InputError& e) {
    std::cerr << "hpsim: error: " << e.what() << "\n";
    return 2;
  } catch (const core::InfeasibleError& e) {
    std::cerr << "hpsim: " << e.what() << "\n";
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "hpsim: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
