#include "apps/html_report_plan.hpp"

#include <cctype>

#include <fmt/format.h>

#include "apps/html_report.hpp"
#include "apps/output.hpp"
#include "apps/whole_run_output.hpp"
#include "costs/collectives.hpp"

namespace hpsim::apps {

using nlohmann::json;

namespace {

/// The plan simulated again with its graph kept, as a timeline.
json timeline_of(const models::ModelSpec& model, const topologies::ClusterSpec& cluster, const planner::Plan& plan,
                 const std::string& title) {
  planner::SimulateOptions options;
  options.keep_graph = true;
  const auto step = planner::simulate_step(planner::Scenario(model, cluster), plan, options);
  return html_timeline(title, *step.graph, *step.timings);
}

std::string heading(const PlanInputs& in, const planner::StepResult& best) {
  return fmt::format("{} on {} ({} GPUs), global batch {}, sequence {}, {}", in.model.name, cluster_label(in.cluster),
                     best.gpus, best.plan.global_batch_size, best.plan.seq_length,
                     topologies::to_string(best.plan.precision));
}

/// What the whole-run section shows, and of how many tokens.
std::string whole_run_caption(const planner::WholeRun& w) {
  return fmt::format("The run of {:.4g} tokens: expected days with Daly-interval checkpoints, interruptions and "
                     "restarts (p50 / p90 from a seeded Monte-Carlo), goodput, and the share of time lost to "
                     "stragglers with the step's P50 / P99 over the sampled placements of slow GPUs "
                     "(docs/whole_run.md).",
                     w.train_tokens);
}

}  // namespace

std::string html_plan_label(const planner::Plan& p) {
  std::string s = fmt::format("tp {} pp {}", p.tp, p.pp);
  if (p.vpp > 1) s += fmt::format(" vpp {}", p.vpp);
  s += fmt::format(" dp {}", p.dp);
  if (p.cp > 1) s += fmt::format(" cp {}", p.cp);
  if (p.ep > 1) s += fmt::format(" ep {}", p.ep);
  s += fmt::format(" mbs {} {}", p.micro_batch_size, planner::to_string(p.recompute));
  if (p.sp) s += " sp";
  if (p.zero > 0) s += fmt::format(" zero {}", p.zero);
  // An uneven pipeline split, by its keys (the plans table lists each stage's layers).
  if (p.decoder_first_pipeline_num_layers > 0 || p.decoder_last_pipeline_num_layers > 0)
    s += fmt::format(" first/last stage {}/{}", p.decoder_first_pipeline_num_layers, p.decoder_last_pipeline_num_layers);
  if (p.account_for_embedding_in_pipeline_split || p.account_for_loss_in_pipeline_split)
    s += fmt::format(" {}{} in split", p.account_for_embedding_in_pipeline_split ? "embedding" : "",
                     p.account_for_embedding_in_pipeline_split && p.account_for_loss_in_pipeline_split ? "+loss"
                     : p.account_for_loss_in_pipeline_split                                         ? "loss"
                                                                                                    : "");
  return s;
}

json html_search_page(const PlanInputs& in, const planner::SearchResult& result,
                      const std::vector<planner::WholeRun>& runs) {
  json page;
  const auto& best = result.plans.front();
  page["title"] = "hpsim plan: " + in.model.name + " on " + cluster_label(in.cluster);
  page["subtitle"] = heading(in, best);
  page["summary"] = fmt::format(
      "{} candidate plans considered, {} feasible, {} simulated in full. Best: {}, {:.3f} s per step, {:.0f} tokens/s, "
      "MFU {:.1f} %. {}{}",
      result.candidates, result.feasible, result.simulated, html_plan_label(best.plan), best.step_time.value(),
      best.tokens_per_s, best.mfu * 100,
      result.why_best.empty() ? "" : std::string(1, static_cast<char>(std::toupper(result.why_best[0]))),
      result.why_best.empty() ? "" : result.why_best.substr(1));
  json plans = json::array();
  for (std::size_t i = 0; i < result.plans.size(); ++i) {
    auto e = html_plan_entry(html_plan_label(result.plans[i].plan), result.plans[i]);
    e["rank"] = i + 1;
    if (i < runs.size()) e["whole_run"] = whole_run_to_json(runs[i]);
    plans.push_back(std::move(e));
  }
  page["plans"] = std::move(plans);
  if (!runs.empty()) page["whole_run_caption"] = whole_run_caption(runs.front());
  page["plans_caption"] = fmt::format("The {} fastest plans that fit, ranked by simulated step time.", result.plans.size());
  page["timeline"] = timeline_of(in.model, in.cluster, best.plan,
                                 "Simulated step of the best plan (" + html_plan_label(best.plan) + ")");
  return page;
}

json html_sweep_page(const PlanInputs& in, const std::vector<SweepAxis>& axes, const std::vector<SweepPoint>& points) {
  json page;
  page["title"] = "hpsim plan sweep: " + in.model.name + " on " + cluster_label(in.cluster);
  std::string axes_text;
  for (const auto& a : axes) axes_text += (axes_text.empty() ? "" : ", ") + a.key;
  page["subtitle"] = "what-if sweep over " + axes_text + "; the best plan of each point";
  json plans = json::array();
  const SweepPoint* fastest = nullptr;
  std::size_t fastest_entry = 0;
  std::string notes;
  int rank = 0;
  for (const auto& p : points) {
    std::string where;
    for (std::size_t i = 0; i < axes.size() && i < p.values.size(); ++i)
      where += (where.empty() ? "" : ", ") + axes[i].key + "=" + p.values[i];
    if (!p.search || p.search->plans.empty()) {
      notes += (notes.empty() ? "" : "; ") + where + ": " + (p.note.empty() ? "no plan" : p.note);
      continue;
    }
    const auto& best = p.search->plans.front();
    auto e = html_plan_entry(where + ": " + html_plan_label(best.plan), best);
    e["rank"] = ++rank;
    if (p.whole_run) e["whole_run"] = whole_run_to_json(*p.whole_run);
    plans.push_back(std::move(e));
    if (p.whole_run && !page.contains("whole_run_caption")) page["whole_run_caption"] = whole_run_caption(*p.whole_run);
    if (!fastest || best.step_time < fastest->search->plans.front().step_time) {
      fastest = &p;
      fastest_entry = plans.size() - 1;
    }
  }
  if (fastest) plans[fastest_entry]["best"] = true;
  page["plans"] = std::move(plans);
  page["plans_caption"] = "One row per sweep point (numbered in sweep order): its best plan." +
                          (notes.empty() ? std::string() : " Points without a plan: " + notes + ".");
  if (fastest) {
    const PlanInputs point = apply_point(in, axes, fastest->values);
    std::string where;
    for (std::size_t i = 0; i < axes.size(); ++i) where += (where.empty() ? "" : ", ") + axes[i].key + "=" + fastest->values[i];
    const auto& best = fastest->search->plans.front();
    page["timeline"] = timeline_of(point.model, point.cluster, best.plan,
                                   "Simulated step of the fastest point (" + where + ": " + html_plan_label(best.plan) + ")");
  }
  return page;
}

}  // namespace hpsim::apps
