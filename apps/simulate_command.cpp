#include "apps/simulate_command.hpp"

#include <fstream>
#include <iostream>
#include <optional>

#include "apps/localhost_cluster.hpp"
#include "apps/model_loading.hpp"
#include "apps/whole_run_output.hpp"
#include "apps/step_table.hpp"
#include "core/error.hpp"
#include "planner/plan_file.hpp"
#include "planner/step_simulation.hpp"
#include "planner/straggler_simulation.hpp"
#include "sim/trace_writer.hpp"

namespace hpsim::apps {

CLI::App* add_simulate_command(CLI::App& app, SimulateArgs& a) {
  auto* cmd = app.add_subcommand("simulate", "predict one training step of one plan");
  add_model_cluster_options(cmd, a.model, a.cluster);
  cmd->add_option("--plan", a.plan_file, "plan file (model, cluster, plan); flags override it");
  cmd->add_option("--trace", a.trace, "write a Chrome/Perfetto trace of the simulated step");
  cmd->add_option("--train-tokens", a.train_tokens,
                  "also predict the whole run for this many tokens (days, GPU-hours, cost, checkpoints, failures)");
  cmd->add_flag("--full-ranks", a.full_ranks, "simulate every GPU instead of one representative rank per pipeline stage");
  a.flags.add(cmd);
  return cmd;
}

int run_simulate_command(const SimulateArgs& a, Format format) {
  const auto train_tokens = train_tokens_flag(a.train_tokens);
  models::ModelSpec model;
  topologies::ClusterSpec cluster;
  YAML::Node plan_node(YAML::NodeType::Map);
  std::string where = "command line";
  bool has_model = false, has_cluster = false;
  if (!a.plan_file.empty()) {
    // --cluster replaces the file's cluster: `localhost` in the file then needs no calibration.
    const auto resolve = [&](const std::string& name) {
      return name == "localhost" && !a.cluster.empty() ? std::string("dgx-h100") : resolve_cluster_name(name);
    };
    const auto file = planner::load_plan_file(a.plan_file, resolve);  // checks the whole file
    plan_node = core::load_yaml_file(a.plan_file)["plan"];
    where = a.plan_file;
    if (file.has_model) model = file.model, has_model = true;
    if (file.has_cluster) cluster = file.cluster, has_cluster = true;
  }
  const bool example = a.plan_file.empty() && a.model.empty() && a.cluster.empty() && a.flags.values.empty();
  if (example) {
    std::cerr << "hpsim simulate: no model, cluster or plan given; simulating the built-in example: GPT-3 175B on 128 "
                 "DGX A100 80GB nodes (1024 GPUs), tp 8, pp 8, dp 16, global batch 1536, full recompute, fp16\n";
    model = models::load_model("gpt3-175b");
    cluster = topologies::load_cluster("dgx-a100-80gb:128");
    has_model = has_cluster = true;
    plan_node = YAML::Load("{tp: 8, pp: 8, micro_batch_size: 1, global_batch_size: 1536, recompute: full, "
                           "precision: fp16}");
  }
  if (!a.model.empty()) model = load_model_warning(a.model, "simulate"), has_model = true;
  if (!a.cluster.empty()) cluster = topologies::load_cluster(resolve_cluster_name(a.cluster)), has_cluster = true;
  if (!has_model) throw core::InputError(where, "--model", "required (a preset name, a model file or config.json)");
  if (!has_cluster) throw core::InputError(where, "--cluster", "required (a preset NAME:NODES or a cluster file)");
  a.flags.apply(plan_node);
  const planner::Plan plan = planner::resolve_plan(
      planner::plan_from_fields(core::Fields(plan_node, where + (a.plan_file.empty() ? "" : ": plan"))), model,
      cluster, where);

  planner::SimulateOptions options;
  options.mode = a.full_ranks ? planner::RankMode::full : planner::RankMode::representative;
  options.keep_graph = !a.trace.empty();
  const planner::Scenario scenario(model, cluster);
  planner::CostCache cache(scenario);
  const auto step = planner::simulate_step(cache, plan, options);
  const auto stragglers = planner::simulate_stragglers(cache, step.result);
  if (!a.trace.empty()) {
    std::ofstream out(a.trace);
    if (!out) throw core::InputError(a.trace, "--trace", "cannot write the trace file");
    sim::write_chrome_trace(out, step.graph->graph, *step.timings);
  }
  std::optional<planner::WholeRun> run;
  if (train_tokens) run = planner::whole_run(step.result, model, cluster, *train_tokens, stragglers);
  if (format == Format::json) {
    auto j = step_to_json(step.result);
    j["model"] = model.name;
    j["cluster"] = cluster_label(cluster);
    if (stragglers) j["stragglers"] = stragglers_to_json(*stragglers);
    if (run) j["whole_run"] = whole_run_to_json(*run);
    std::cout << j.dump(2) << "\n";
  } else if (format == Format::csv || format == Format::md) {
    std::cout << step_to_table(step.result, model, cluster).render(format);
  } else {
    std::cout << step_to_text(step.result, model, cluster);
    if (stragglers) std::cout << stragglers_to_text(*stragglers, cluster);
    if (run) std::cout << whole_run_to_text(*run, cluster);
    if (!a.trace.empty()) std::cout << "trace written to " << a.trace << " (open in ui.perfetto.dev)\n";
  }
  return 0;
}

}  // namespace hpsim::apps
