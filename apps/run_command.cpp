#include "apps/run_command.hpp"

namespace hpsim::apps {

CLI::App* add_run_command(CLI::App& app, RunArgs& a) {
  auto* cmd = app.add_subcommand("run", "execute a plan file for real under mpirun -np N (one rank per GPU of the "
                                        "plan) and set the measured step time beside hpsim's prediction");
  cmd->add_option("--plan", a.plan_file, "plan file (model, cluster, plan); cluster localhost = this machine")
      ->required();
  cmd->add_option("--backend", a.backend, "compute backend: cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--steps", a.steps, "measured optimizer steps")->check(CLI::PositiveNumber);
  cmd->add_option("--warmup", a.warmup, "steps run first, not measured")->check(CLI::NonNegativeNumber);
  cmd->add_option("--step-timeout-s", a.step_timeout_s,
                  "abort every rank (naming the late one) when a step takes longer than this")
      ->check(CLI::PositiveNumber);
  a.plan_flags.add(cmd);
  return cmd;
}

}  // namespace hpsim::apps
