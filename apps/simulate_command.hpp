#pragma once
/// `hpsim simulate`: predict one training step of one plan (flags, a plan file, or the built-in example), with an
/// optional Chrome/Perfetto trace.
#include <string>

#include <CLI/CLI.hpp>

#include "apps/output.hpp"
#include "apps/plan_flags.hpp"

namespace hpsim::apps {

struct SimulateArgs {
  std::string model, cluster, plan_file, trace;
  std::string train_tokens;  ///< --train-tokens: text, checked when run
  bool full_ranks = false;
  PlanFieldFlags flags;
};

/// Registers `simulate` and its flags on `app` (the caller adds --format).
CLI::App* add_simulate_command(CLI::App& app, SimulateArgs& args);
int run_simulate_command(const SimulateArgs& args, Format format);

}  // namespace hpsim::apps
