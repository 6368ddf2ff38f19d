// hpsim: predict, plan and validate hybrid-parallel LLM training. Thin: parse, call, print.
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/executor_handover.hpp"
#include "apps/keys_command.hpp"
#include "apps/localhost_cluster.hpp"
#include "apps/output.hpp"
#include "apps/plan_command.hpp"
#include "apps/plan_flags.hpp"
#include "apps/report_command.hpp"
#include "core/error.hpp"
#include "planner/plan_file.hpp"
#include "planner/step_simulation.hpp"
#include "planner/validation.hpp"
#include "sim/trace_writer.hpp"

namespace {

using namespace hpsim;
using apps::Format;

const std::map<std::string, Format> kFormats = {
    {"table", Format::table}, {"json", Format::json}, {"csv", Format::csv}, {"md", Format::md}};

Format parse_format(const std::string& s) { return kFormats.at(s); }

int cmd_models(Format format) {
  apps::TextTable t;
  t.header = {"model", "params (B)", "layers", "hidden", "heads", "kv heads", "ffn", "vocab", "seq", "experts"};
  nlohmann::json j = nlohmann::json::array();
  for (const auto& m : models::model_presets()) {
    const double params = static_cast<double>(models::total_parameters(m)) / 1e9;
    t.rows.push_back({m.name, fmt::format("{:.2f}", params), std::to_string(m.num_layers),
                      std::to_string(m.hidden_size), std::to_string(m.num_heads), std::to_string(m.num_kv_heads),
                      std::to_string(m.ffn_hidden_size), std::to_string(m.vocab_size), std::to_string(m.seq_length),
                      m.is_moe() ? fmt::format("{} top-{}", m.num_experts, m.experts_per_token) : "-"});
    j.push_back({{"name", m.name}, {"parameters", models::total_parameters(m)}, {"num_hidden_layers", m.num_layers},
                 {"hidden_size", m.hidden_size}, {"num_attention_heads", m.num_heads},
                 {"num_key_value_heads", m.num_kv_heads}, {"intermediate_size", m.ffn_hidden_size},
                 {"vocab_size", m.vocab_size}, {"seq_length", m.seq_length}, {"num_local_experts", m.num_experts},
                 {"num_experts_per_tok", m.experts_per_token}, {"source", m.source}});
  }
  std::cout << (format == Format::json ? j.dump(2) + "\n" : t.render(format));
  return 0;
}

int cmd_clusters(Format format) {
  apps::TextTable t;
  t.header = {"cluster", "gpu", "gpus/node", "peak bf16 TFLOP/s", "HBM GiB", "HBM GB/s", "NVLink GB/s",
              "NICs x Gb/s", "oversub."};
  nlohmann::json j = nlohmann::json::array();
  for (const auto& c : topologies::cluster_presets()) {
    const auto peak = c.gpu.peak_for(topologies::Precision::bf16).value() / 1e12;
    t.rows.push_back({c.name, c.gpu.name, std::to_string(c.gpus_per_node), fmt::format("{:.0f}", peak),
                      apps::gib(c.gpu.hbm_capacity), fmt::format("{:.0f}", c.gpu.hbm_bandwidth.value() / 1e9),
                      fmt::format("{:.0f}", c.intra_node_bandwidth.value() / 1e9),
                      fmt::format("{} x {:.0f}", c.nics_per_node, c.nic_bandwidth.value() * 8 / 1e9),
                      fmt::format("{:g}", c.fabric_oversubscription)});
    j.push_back({{"name", c.name}, {"gpu", c.gpu.name}, {"gpus_per_node", c.gpus_per_node},
                 {"peak_bf16_flops", peak * 1e12}, {"hbm_bytes", c.gpu.hbm_capacity.value()},
                 {"hbm_bandwidth_bytes_per_s", c.gpu.hbm_bandwidth.value()},
                 {"intra_node_bandwidth_bytes_per_s", c.intra_node_bandwidth.value()},
                 {"nics_per_node", c.nics_per_node}, {"nic_bandwidth_bytes_per_s", c.nic_bandwidth.value()},
                 {"fabric_oversubscription", c.fabric_oversubscription}, {"source", c.source}});
  }
  std::cout << (format == Format::json ? j.dump(2) + "\n" : t.render(format));
  std::cout << (format == Format::table ? "\nuse NAME:NODES (e.g. dgx-a100-80gb:128) for a cluster of NODES nodes\n" : "");
  return 0;
}

struct SimulateArgs {
  std::string model, cluster, plan_file, trace;
  bool full_ranks = false;
  apps::PlanFieldFlags flags;
};

int cmd_simulate(const SimulateArgs& a, Format format) {
  models::ModelSpec model;
  topologies::ClusterSpec cluster;
  YAML::Node plan_node(YAML::NodeType::Map);
  std::string where = "command line";
  bool has_model = false, has_cluster = false;
  if (!a.plan_file.empty()) {
    // --cluster replaces the file's cluster: `localhost` in the file then needs no calibration.
    const auto resolve = [&](const std::string& name) {
      return name == "localhost" && !a.cluster.empty() ? std::string("dgx-h100") : apps::resolve_cluster_name(name);
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
  if (!a.model.empty()) model = models::load_model(a.model), has_model = true;
  if (!a.cluster.empty()) cluster = topologies::load_cluster(apps::resolve_cluster_name(a.cluster)), has_cluster = true;
  if (!has_model) throw core::InputError(where, "--model", "required (a preset name, a model file or config.json)");
  if (!has_cluster) throw core::InputError(where, "--cluster", "required (a preset NAME:NODES or a cluster file)");
  a.flags.apply(plan_node);
  const planner::Plan plan = planner::resolve_plan(
      planner::plan_from_fields(core::Fields(plan_node, where + (a.plan_file.empty() ? "" : ": plan"))), model,
      cluster, where);

  planner::SimulateOptions options;
  options.mode = a.full_ranks ? planner::RankMode::full : planner::RankMode::representative;
  options.keep_graph = !a.trace.empty();
  const auto step = planner::simulate_step(planner::Scenario(model, cluster), plan, options);
  if (!a.trace.empty()) {
    std::ofstream out(a.trace);
    if (!out) throw core::InputError(a.trace, "--trace", "cannot write the trace file");
    sim::write_chrome_trace(out, step.graph->graph, *step.timings);
  }
  if (format == Format::json) {
    auto j = apps::step_to_json(step.result);
    j["model"] = model.name;
    j["cluster"] = apps::cluster_label(cluster);
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << apps::step_to_text(step.result, model, cluster);
    if (!a.trace.empty()) std::cout << "trace written to " << a.trace << " (open in ui.perfetto.dev)\n";
  }
  return 0;
}

int cmd_validate(const std::string& file, bool with_planner, Format format) {
  const auto cases = planner::load_validation_file(file);
  const auto report = planner::validate_cases(cases);
  const auto quality = with_planner ? planner::plan_quality(cases, report) : std::vector<planner::PlanQuality>{};
  if (format == Format::json) {
    auto j = apps::validation_to_json(report);
    if (with_planner) j["planner"] = apps::plan_quality_to_json(quality);
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << apps::validation_to_text(report, format);
    if (with_planner) std::cout << "\n" << apps::plan_quality_to_text(quality, format);
  }
  if (report.refused.empty()) return 0;
  std::cerr << "hpsim: error: " << file << ": " << report.refused.size() << " of "
            << report.refused.size() + report.cases.size() << " cases refused (first: " << report.refused.front().reason
            << ")\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hpsim: predict, plan and validate hybrid-parallel LLM training on a described cluster"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::function<std::string()>(apps::version_text),
                       "print the version and the executor's backends (run, calibrate)");
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
  add_format(keys_cmd);

  SimulateArgs sim_args;
  auto* simulate_cmd = app.add_subcommand("simulate", "predict one training step of one plan");
  simulate_cmd->add_option("--model", sim_args.model, "preset name, model file or Hugging Face config.json");
  simulate_cmd->add_option("--cluster", sim_args.cluster, "preset NAME:NODES or cluster file");
  simulate_cmd->add_option("--plan", sim_args.plan_file, "plan file (model, cluster, plan); flags override it");
  simulate_cmd->add_option("--trace", sim_args.trace, "write a Chrome/Perfetto trace of the simulated step");
  simulate_cmd->add_flag("--full-ranks", sim_args.full_ranks,
                         "simulate every GPU instead of one representative rank per pipeline stage");
  sim_args.flags.add(simulate_cmd);
  add_format(simulate_cmd);

  apps::PlanArgs plan_args;
  auto* plan_cmd = apps::add_plan_command(app, plan_args);
  add_format(plan_cmd);

  std::string validate_file;
  auto* validate_cmd = app.add_subcommand("validate", "predict every case of a validation file beside its measurement");
  validate_cmd->add_option("file", validate_file, "validation file (YAML)")->required();
  bool validate_planner = false;
  validate_cmd->add_flag("--planner", validate_planner,
                         "also plan each case (same model, GPUs, batch): the best plan, and the case's plan ranked "
                         "among plans with its features");
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
    const Format format = parse_format(format_text);
    if (*models_cmd) return cmd_models(format);
    if (*clusters_cmd) return cmd_clusters(format);
    if (*keys_cmd) return std::cout << apps::plan_keys_text(format), 0;
    if (*simulate_cmd) return cmd_simulate(sim_args, format);
    if (*plan_cmd) return apps::run_plan_command(plan_args, format);
    if (*validate_cmd) return cmd_validate(validate_file, validate_planner, format);
    if (*executor_cmds.run) return apps::hand_over_to_executor("run", argv);
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
