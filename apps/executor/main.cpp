// hpsim-run: the executor behind `hpsim run` and `hpsim calibrate` (MPI, OpenBLAS; cuBLAS and NCCL when built).
// hpsim execs it with its own argv, so it parses the same command line (`hpsim-run run --plan FILE` works too).
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>

#include "apps/executor/commands.hpp"
#include "apps/executor_handover.hpp"
#include "core/error.hpp"

int main(int argc, char** argv) {
  using namespace hpsim;
  CLI::App app{"hpsim-run: the executor of hpsim run and hpsim calibrate (launch under mpirun)"};
  app.require_subcommand(1);
  apps::Format format = apps::Format::table;
  const std::map<std::string, apps::Format> formats = {{"table", apps::Format::table},
                                                       {"json", apps::Format::json},
                                                       {"csv", apps::Format::csv},
                                                       {"md", apps::Format::md}};
  auto add_format = [&](CLI::App* sub) {
    sub->add_option("--format", format, "output: table, json, csv or md")
        ->transform(CLI::CheckedTransformer(formats));
  };
  apps::ExecutorCommands cmds;
  apps::add_executor_commands(app, cmds, add_format);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "hpsim: error: command line: " << e.what() << "\n";
    return 2;
  }
  try {
    if (*cmds.run) return apps::run_command(cmds.run_args, format);
    if (*cmds.calibrate) return apps::calibrate_command(cmds.calibrate_args, format);
  } catch (const core::InputError& e) {
    std::cerr << "hpsim: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "hpsim: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
