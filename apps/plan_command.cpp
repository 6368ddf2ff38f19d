#include "apps/plan_command.hpp"

#include <fstream>
#include <iostream>
#include <optional>

#include <fmt/format.h>

#include "apps/framework_emit.hpp"
#include "apps/html_report.hpp"
#include "apps/html_report_plan.hpp"
#include "apps/localhost_cluster.hpp"
#include "apps/model_loading.hpp"
#include "apps/plan_emit.hpp"
#include "apps/plan_flags.hpp"
#include "apps/plan_inputs.hpp"
#include "apps/plan_output.hpp"
#include "apps/progress_bar.hpp"
#include "apps/what_if.hpp"
#include "apps/whole_run_output.hpp"
#include "apps/whole_run_plans.hpp"
#include "core/error.hpp"
#include "planner/framework.hpp"

namespace hpsim::apps {

namespace {

/// What --emit asked for.
struct Emits {
  bool megatron = false, deepspeed = false, torchtitan = false;
  std::string plan_file;  ///< empty: none
  [[nodiscard]] bool any() const { return megatron || deepspeed || torchtitan || !plan_file.empty(); }
};

Emits parse_emit(const std::vector<std::string>& tokens) {
  Emits e;
  const auto is_word = [](const std::string& t) {
    return t == "megatron" || t == "deepspeed" || t == "torchtitan" || t == "plan";
  };
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] == "megatron") {
      e.megatron = true;
    } else if (tokens[i] == "deepspeed") {
      e.deepspeed = true;
    } else if (tokens[i] == "torchtitan") {
      e.torchtitan = true;
    } else if (tokens[i] == "plan") {
      if (i + 1 >= tokens.size() || is_word(tokens[i + 1]))
        throw core::InputError("command line", "--emit", "expected 'plan FILE': the plan file to write");
      e.plan_file = tokens[++i];
    } else {
      throw core::InputError("command line", "--emit",
                             "expected megatron, deepspeed, torchtitan or plan FILE, got '" + tokens[i] + "'");
    }
  }
  return e;
}

/// A framework's launch arguments only for a plan that framework runs: its rules and memory accounting chose it.
void check_emit_framework(const Emits& e, planner::Framework framework) {
  const std::pair<bool, planner::Framework> asked[] = {{e.megatron, planner::Framework::megatron},
                                                       {e.deepspeed, planner::Framework::deepspeed},
                                                       {e.torchtitan, planner::Framework::fsdp}};
  for (const auto& [on, needs] : asked)
    if (on && needs != framework)
      throw core::InputError("command line", "--emit",
                             fmt::format("{} arguments need --framework {} (the plans are searched for framework {})",
                                         needs == planner::Framework::fsdp ? "torchtitan" : planner::to_string(needs),
                                         planner::to_string(needs), planner::to_string(framework)));
}

PlanInputs plan_inputs(const PlanArgs& a) {
  PlanInputs in;
  in.model_ref = a.model;
  in.cluster_ref = a.cluster;
  if (a.model.empty() && a.cluster.empty() && !a.constraints.has("global_batch_size")) {
    std::cerr << "hpsim plan: no model, cluster or batch given; planning the built-in example: Llama-3 70B on 8 DGX "
                 "H100 nodes (64 GPUs), global batch 512, sequence 8192, with and without flash attention\n";
    in.model_ref = "llama3-70b";
    in.cluster_ref = "dgx-h100:8";
    in.space.fixed.global_batch_size = 512;
    in.space.fixed.seq_length = 8192;
    in.space.axis(planner::PlanKey::flash_attention).values = {0, 1};  // a Llama-3 run today would use it
  }
  if (in.model_ref.empty())
    throw core::InputError("command line", "--model", "required (a preset name, a model file or config.json)");
  if (in.cluster_ref.empty())
    throw core::InputError("command line", "--cluster", "required (a preset NAME:NODES or a cluster file)");
  in.model = load_model_warning(in.model_ref, "plan");
  in.cluster = topologies::load_cluster(resolve_cluster_name(in.cluster_ref));
  if (!a.gpus.empty()) in.space.gpus = positive_integer_flag(a.gpus, "--gpus");
  a.constraints.apply(in.space);  // the flags may pin what the example chose
  return in;
}

void write_text(const std::string& path, const std::string& flag, const std::string& text) {
  std::ofstream out(path);
  if (!out) throw core::InputError(path, flag, "cannot write the file");
  out << text;
}

planner::SearchResult search_with_progress(const PlanInputs& in, planner::SearchOptions options) {
  ProgressBar bar;  // cleared when the search returns, before anything is printed
  options.progress = [&bar](double f) { bar.update(f); };
  return planner::search_plans(planner::Scenario(in.model, in.cluster), in.space, options);
}

/// Ranking by time to train looks beyond the step-time ranking's top: a plan a little slower per step can lose
/// less to stragglers or checkpoints. This many times --top are searched and ranked by expected days, and the pool
/// grows by this factor until no plan beyond it could enter the ranking (time_to_train_pool_suffices).
constexpr std::size_t kTimeToTrainPool = 4;

int plan_once(const PlanInputs& in, planner::SearchOptions options, const Emits& emit, const PlanArgs& a,
              Format format) {
  const auto train_tokens = train_tokens_flag(a.train_tokens);
  const bool by_days = rank_by_flag(a.rank_by) == RankBy::time_to_train;
  const std::size_t top = options.top_k;
  if (by_days) options.top_k *= kTimeToTrainPool;
  auto result = search_with_progress(in, options);
  std::vector<planner::WholeRun> runs;
  if (train_tokens) runs = whole_runs(in, result.plans, *train_tokens);
  while (by_days && !time_to_train_pool_suffices(result, runs, top, options.top_k)) {
    options.top_k *= kTimeToTrainPool;
    result = search_with_progress(in, options);
    runs = whole_runs(in, result.plans, *train_tokens);
  }
  if (by_days) rank_by_time_to_train(result, runs, top);
  const auto& best = result.plans.front();
  if ((emit.megatron || emit.deepspeed || emit.torchtitan) && !best.plan.pipeline_layers.empty())
    throw core::InputError("command line", "--emit",
                           "the best plan's pipeline_layers (layers per stage by speed) has no argument in the "
                           "frameworks' checked flag lists; use --emit plan FILE");
  const std::string megatron = emit.megatron ? megatron_arguments(best.plan, in.model) : "";
  // A mixed cluster: what the mix costs against the homogeneous split and the all-one-type clusters.
  std::optional<planner::MixedClusterComparison> mixed;
  if (in.cluster.mixed())
    mixed = planner::compare_mixed_cluster(planner::Scenario(in.model, in.cluster), in.space, options,
                                           best.step_time.value());
  if (format == Format::json) {
    auto j = search_to_json(result, in.model, in.cluster);
    if (emit.megatron) j["megatron_args"] = megatron;
    if (emit.deepspeed) {
      j["deepspeed_config"] = deepspeed_config(best.plan);
      j["deepspeed_args"] = megatron_deepspeed_arguments(best.plan);
    }
    if (emit.torchtitan) j["torchtitan_toml"] = torchtitan_toml(best.plan, in.model);
    if (mixed) j["mixed_cluster"] = mixed_cluster_to_json(*mixed);
    for (std::size_t i = 0; i < runs.size(); ++i) j["plans"][i]["whole_run"] = whole_run_to_json(runs[i]);
    std::cout << j.dump(2) << "\n";
  } else {
    if (format != Format::csv)
      std::cout << fmt::format("{} on {} ({} GPUs), global batch {}, sequence {}, {}: the best {} plans\n\n",
                               in.model.name, cluster_label(in.cluster), best.gpus, best.plan.global_batch_size,
                               best.plan.seq_length, topologies::to_string(best.plan.precision), result.plans.size());
    if (by_days && format != Format::csv)
      std::cout << "ranked by expected days to train (--rank-by time-to-train)\n";
    std::cout << plans_table(result).render(format);
    if (format != Format::csv) std::cout << search_summary(result);
    if (mixed && format != Format::csv)
      std::cout << "\nwhat the mix costs (docs/mixed_clusters.md): the best plan of each alternative\n"
                << mixed_cluster_table(*mixed).render(format);
    if (train_tokens && format != Format::csv)
      std::cout << fmt::format("\nwhole run of {:.4g} tokens (docs/whole_run.md)\n", *train_tokens)
                << whole_run_table(runs).render(format);
    // CSV stays rows only; the arguments then go to stderr.
    std::ostream& args = format == Format::csv ? std::cerr : std::cout;
    if (emit.megatron) args << "\nMegatron-LM: " << megatron << "\n";
    if (emit.deepspeed)
      args << "\nDeepSpeed config (ds_config.json):\n" << deepspeed_config(best.plan).dump(2)
           << "\nMegatron-DeepSpeed: " << megatron_deepspeed_arguments(best.plan) << "\n";
    if (emit.torchtitan) args << "\ntorchtitan job config (TOML):\n" << torchtitan_toml(best.plan, in.model);
  }
  if (!emit.plan_file.empty()) {
    write_plan_file(emit.plan_file, best.plan, in.model_ref, in.cluster_ref,
                    fmt::format("hpsim plan: the best of {} feasible plans, predicted step time {:.3f} s",
                                result.feasible, best.step_time.value()));
    if (format == Format::table || format == Format::md) std::cout << "plan file written to " << emit.plan_file << "\n";
  }
  if (!a.csv_file.empty()) write_text(a.csv_file, "--csv", plans_table(result).render(Format::csv));
  if (!a.html_file.empty()) {
    write_html_page(a.html_file, "--html", html_search_page(in, result, runs));
    if (format == Format::table || format == Format::md) std::cout << "HTML report written to " << a.html_file << "\n";
  }
  return 0;
}

int plan_sweep(const PlanInputs& in, const std::vector<SweepAxis>& axes, planner::SearchOptions options,
               const PlanArgs& a, Format format) {
  options.top_k = 1;  // a point reports only its best plan
  auto points = run_sweep(in, axes, options);
  if (const auto train_tokens = train_tokens_flag(a.train_tokens)) add_sweep_whole_runs(in, axes, points, *train_tokens);
  const TextTable table = sweep_table(axes, points);
  if (format == Format::json)
    std::cout << sweep_to_json(axes, points, in.model, in.cluster).dump(2) << "\n";
  else
    std::cout << table.render(format);
  if (!a.csv_file.empty()) write_text(a.csv_file, "--csv", table.render(Format::csv));
  if (!a.html_file.empty()) write_html_page(a.html_file, "--html", html_sweep_page(in, axes, points));
  for (const auto& p : points)
    if (p.search) return 0;
  std::cerr << "hpsim plan: no point of the sweep has a feasible plan\n";
  return 3;
}

}  // namespace

CLI::App* add_plan_command(CLI::App& app, PlanArgs& a) {
  auto* cmd = app.add_subcommand("plan", "search the plan space; print the best plans and why; sweep what-ifs");
  add_model_cluster_options(cmd, a.model, a.cluster);
  cmd->add_option("--gpus", a.gpus, "GPUs to use (default: the whole cluster)");
  cmd->add_option("--top", a.top, "how many plans to list (default 10)");
  cmd->add_option("--threads", a.threads, "search threads (default: one per hardware thread)");
  a.constraints.add(cmd);
  cmd->add_option("--set", a.sets, "what-if sweep KEY=V1,V2,... over a cluster, model or batch field (repeatable)");
  // Each --emit takes a framework name or "plan FILE"; collected per occurrence so that several can be given.
  cmd->add_option_function<std::vector<std::string>>(
         "--emit", [&a](const std::vector<std::string>& v) { a.emit.insert(a.emit.end(), v.begin(), v.end()); },
         "megatron, deepspeed, torchtitan: print the best plan's launch arguments for that framework (with "
         "--framework); plan FILE: write it as a plan file")
      ->expected(1, 2)
      ->trigger_on_parse();
  cmd->add_option("--train-tokens", a.train_tokens,
                  "also predict each listed plan's whole run for this many tokens (days, cost, interruptions, "
                  "stragglers); with --set, each point's best plan's");
  cmd->add_option("--rank-by", a.rank_by,
                  "step-time (default) or time-to-train: expected days with checkpoints, interruptions and "
                  "stragglers (needs --train-tokens)");
  cmd->add_option("--csv", a.csv_file, "also write the table as CSV to this file (for plotting)");
  cmd->add_option("--html", a.html_file,
                  "also write a self-contained HTML report: the best plan's simulated timeline, breakdown, memory");
  return cmd;
}

int run_plan_command(const PlanArgs& a, Format format) {
  const Emits emit = parse_emit(a.emit);
  const auto axes = parse_sweep(a.sets);
  if (!axes.empty() && emit.any())
    throw core::InputError("command line", "--emit", "not with --set (pin the swept values to emit one plan)");
  // Bad values fail before the search.
  const bool tokens = train_tokens_flag(a.train_tokens).has_value();
  if (rank_by_flag(a.rank_by) == RankBy::time_to_train && !tokens)
    throw core::InputError("command line", "--rank-by", "time-to-train needs --train-tokens (the run to time)");
  if (rank_by_flag(a.rank_by) == RankBy::time_to_train && !axes.empty())
    throw core::InputError("command line", "--rank-by", "not with --set (a sweep point lists its fastest plan)");
  planner::SearchOptions options;
  options.top_k = static_cast<std::size_t>(positive_integer_flag(a.top, "--top"));
  if (!a.threads.empty()) options.threads = static_cast<unsigned>(positive_integer_flag(a.threads, "--threads"));
  const PlanInputs in = plan_inputs(a);
  check_emit_framework(emit, in.space.framework());
  return axes.empty() ? plan_once(in, options, emit, a, format) : plan_sweep(in, axes, options, a, format);
}

}  // namespace hpsim::apps
