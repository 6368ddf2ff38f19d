#include "apps/run_command.hpp"

namespace hpsim::apps {

CLI::App* add_run_command(CLI::App& app, RunArgs& a) {
  auto* cmd = app.add_subcommand("run", "execute a plan file for real under mpirun -np N (one rank per GPU of the "
                                        "plan) and set the measured step time beside hpsim's prediction");
  cmd->add_option("--plan", a.plan_file, "plan file (model, cluster, plan); cluster localhost = this machine")
      ->required();
  cmd->add_option("--backend", a.backend, "compute backend: cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--steps", a.steps, "measured optimizer steps")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--warmup", a.warmup, "steps run first, not measured")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--step-timeout-s", a.step_timeout_s,
                  "abort every rank (naming the late one) when a step takes longer than this; the pre-flight refuses a "
                  "plan predicted slower")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--no-preflight", a.no_preflight,
                "run even when hpsim's memory model or prediction on this machine says the plan will not fit or not "
                "finish a step within --step-timeout-s (refused with exit 2 otherwise)");
  a.plan_flags.add(cmd);
  return cmd;
}

}  // namespace hpsim::apps
