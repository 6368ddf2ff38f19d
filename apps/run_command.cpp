#include "apps/run_command.hpp"

namespace hpsim::apps {

CLI::App* add_run_command(CLI::App& app, RunArgs& a) {
  auto* cmd = app.add_subcommand("run", "execute a plan file for real under mpirun -np N (one rank per GPU of the "
                                        "plan) and set the measured step time beside hpsim's prediction");
  cmd->add_option("--plan", a.plan_file, "plan file (model, cluster, plan); cluster localhost = this machine")
      ->required();
  cmd->add_option("--backend", a.backend, "compute backend: cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--steps", a.steps,
                  "measured optimizer steps; the run's steps are numbered 1..warmup+steps from its start, and with "
                  "--resume it runs only those after the checkpoint's step (the same total, not steps more)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--warmup", a.warmup, "steps run first, not measured (counted in the run's total)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  auto* every = cmd->add_option("--checkpoint-every", a.checkpoint_every,
                                "write a checkpoint every N steps (of the run's numbering) into --checkpoint-dir: every "
                                "rank's weights, optimizer state, loss scaler, data position and step; "
                                "D/step-<k>/ is complete once its manifest.json is written")
                     ->check(CLI::PositiveNumber);
  auto* dir = cmd->add_option("--checkpoint-dir", a.checkpoint_dir, "directory of the checkpoints (shared by the ranks)");
  every->needs(dir);
  dir->needs(every);
  cmd->add_option("--resume", a.resume_dir,
                  "continue from the newest complete checkpoint in this directory (torn ones are skipped, saying so); "
                  "it must be of the same plan, model, seed, backend and rank count (else exit 2); losses and final "
                  "weights then equal the uninterrupted run's bit for bit");
  cmd->add_option("--step-timeout-s", a.step_timeout_s,
                  "abort every rank, naming the rank the others wait for, when a step takes longer than this; the "
                  "pre-flight refuses a plan predicted slower")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--no-preflight", a.no_preflight,
                "run even when hpsim's memory model or prediction on this machine says the plan will not fit or not "
                "finish a step within --step-timeout-s (refused with exit 2 otherwise)");
  a.plan_flags.add(cmd);
  return cmd;
}

}  // namespace hpsim::apps
