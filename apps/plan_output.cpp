#include "apps/plan_output.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "apps/whole_run_output.hpp"

namespace hpsim::apps {

namespace {

using nlohmann::json;

const std::vector<std::string> kPlanHeader = {"tp",        "pp", "dp",   "cp",  "ep", "vpp",
                                              "mbs",       "recompute", "sp", "zero", "flash"};

std::vector<std::string> plan_cells(const planner::Plan& p) {
  return {std::to_string(p.tp),  std::to_string(p.pp),  std::to_string(p.dp),
          std::to_string(p.cp),  std::to_string(p.ep),  std::to_string(p.vpp),
          std::to_string(p.micro_batch_size), planner::to_string(p.recompute), p.sp ? "on" : "off",
          std::to_string(p.zero), p.flash_attention ? "on" : "off"};
}

double exposed_comm_s(const planner::StepBreakdown& b) {
  return (b.tp_comm_exposed + b.cp_comm_exposed + b.ep_comm_exposed + b.pp_comm_exposed + b.dp_comm_exposed).value();
}

std::string percent_of_step(double part_s, const planner::StepResult& r) {
  return fmt::format("{:.1f}", r.step_time.value() > 0 ? 100 * part_s / r.step_time.value() : 0.0);
}

void append(std::vector<std::string>& to, const std::vector<std::string>& cells) {
  to.insert(to.end(), cells.begin(), cells.end());
}

}  // namespace

TextTable plans_table(const planner::SearchResult& result) {
  TextTable t;
  t.header = {"rank"};
  append(t.header, kPlanHeader);
  append(t.header, {"step s", "tokens/s", "MFU %", "mem GiB", "bubble %", "exp. comm %"});
  // Each stage's layers, when some plan splits them unevenly (pp*vpp not dividing the layers).
  const bool uneven = std::any_of(result.plans.begin(), result.plans.end(),
                                  [](const planner::StepResult& r) { return !split_is_even(r); });
  if (uneven) t.header.insert(t.header.begin() + 1 + static_cast<std::ptrdiff_t>(kPlanHeader.size()), "layers/stage");
  for (std::size_t i = 0; i < result.plans.size(); ++i) {
    const auto& r = result.plans[i];
    std::vector<std::string> row = {std::to_string(i + 1)};
    append(row, plan_cells(r.plan));
    if (uneven) row.push_back(split_is_even(r) ? "even" : stage_layers_text(r));
    append(row, {fmt::format("{:.3f}", r.step_time.value()), fmt::format("{:.0f}", r.tokens_per_s),
                 fmt::format("{:.1f}", r.mfu * 100), gib(r.memory.peak),
                 percent_of_step(r.breakdown.pp_bubble.value(), r), percent_of_step(exposed_comm_s(r.breakdown), r)});
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string search_summary(const planner::SearchResult& result) {
  std::string out = fmt::format("\n{} candidates considered, {} feasible, {} simulated in full; searched in {:.3f} s\n",
                                result.candidates, result.feasible, result.simulated, result.search_time_s);
  std::vector<std::pair<std::string, std::int64_t>> rejected(result.rejected.begin(), result.rejected.end());
  std::stable_sort(rejected.begin(), rejected.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (!rejected.empty()) {
    out += "rejected:";
    for (std::size_t i = 0; i < rejected.size(); ++i)
      out += fmt::format("{} {} {}", i ? "," : "", rejected[i].second, rejected[i].first);
    out += "\n";
  }
  if (!result.why_best.empty()) out += "why: " + result.why_best + "\n";
  return out;
}

json search_to_json(const planner::SearchResult& result, const models::ModelSpec& model,
                    const topologies::ClusterSpec& cluster) {
  json plans = json::array();
  for (const auto& r : result.plans) plans.push_back(step_to_json(r));
  return json{{"model", model.name},
              {"cluster", cluster_label(cluster)},
              {"plans", plans},
              {"candidates", result.candidates},
              {"feasible", result.feasible},
              {"simulated", result.simulated},
              {"search_time_s", result.search_time_s},
              {"rejected", result.rejected},
              {"why_best", result.why_best}};
}

TextTable sweep_table(const std::vector<SweepAxis>& axes, const std::vector<SweepPoint>& points) {
  TextTable t;
  for (const auto& a : axes) t.header.push_back(a.key);
  append(t.header, kPlanHeader);
  append(t.header, {"step s", "tokens/s", "MFU %"});
  // --train-tokens: the best plan's whole run beside it.
  const bool runs = std::any_of(points.begin(), points.end(), [](const SweepPoint& p) { return p.whole_run.has_value(); });
  if (runs) append(t.header, {"days", "goodput %", "straggler %"});
  t.header.emplace_back("note");
  for (const auto& p : points) {
    std::vector<std::string> row = p.values;
    if (p.search && !p.search->plans.empty()) {
      const auto& best = p.search->plans.front();
      append(row, plan_cells(best.plan));
      append(row, {fmt::format("{:.3f}", best.step_time.value()), fmt::format("{:.0f}", best.tokens_per_s),
                   fmt::format("{:.1f}", best.mfu * 100)});
      if (runs && p.whole_run)
        append(row, {fmt::format("{:.1f}", p.whole_run->days()), fmt::format("{:.1f}", p.whole_run->goodput * 100),
                     fmt::format("{:.1f}", p.whole_run->straggler_loss * 100)});
      row.emplace_back("");
    } else {
      row.resize(row.size() + kPlanHeader.size() + (runs ? 6 : 3), "-");
      row.push_back(p.note);
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

json sweep_to_json(const std::vector<SweepAxis>& axes, const std::vector<SweepPoint>& points,
                   const models::ModelSpec& model, const topologies::ClusterSpec& cluster) {
  json out = json::array();
  for (const auto& p : points) {
    json set = json::object();
    for (std::size_t i = 0; i < axes.size(); ++i) set[axes[i].key] = p.values[i];
    json point = {{"set", set}};
    if (p.search) {
      point["best"] = p.search->plans.empty() ? json() : step_to_json(p.search->plans.front());
      point["candidates"] = p.search->candidates;
      point["feasible"] = p.search->feasible;
      point["search_time_s"] = p.search->search_time_s;
      if (p.whole_run) point["whole_run"] = whole_run_to_json(*p.whole_run);
    } else {
      point["best"] = nullptr;
      point["note"] = p.note;
    }
    out.push_back(std::move(point));
  }
  return json{{"model", model.name}, {"cluster", cluster_label(cluster)}, {"points", out}};
}

namespace {

/// "+12.3 %": how much slower than the mixed plan (empty when nothing fits).
std::string versus(double step_s, double mixed_s) {
  return step_s > 0 ? fmt::format("{:+.1f} %", 100 * (step_s / mixed_s - 1)) : "-";
}

std::string seconds_or_none(double step_s) { return step_s > 0 ? fmt::format("{:.3f}", step_s) : "no plan fits"; }

}  // namespace

TextTable mixed_cluster_table(const planner::MixedClusterComparison& c) {
  TextTable t;
  t.header = {"cluster", "layers split", "step s", "vs mixed"};
  t.rows.push_back({"mixed (as given)", "by stage speed", seconds_or_none(c.step_s), "-"});
  t.rows.push_back({"mixed (as given)", "as if homogeneous", seconds_or_none(c.even_split_step_s),
                    versus(c.even_split_step_s, c.step_s)});
  for (const auto& h : c.homogeneous)
    t.rows.push_back({fmt::format("{} nodes of {}", h.nodes, h.gpu), "even or balanced", seconds_or_none(h.step_s),
                      versus(h.step_s, c.step_s)});
  return t;
}

nlohmann::json mixed_cluster_to_json(const planner::MixedClusterComparison& c) {
  nlohmann::json homogeneous = nlohmann::json::array();
  for (const auto& h : c.homogeneous)
    homogeneous.push_back({{"gpu", h.gpu}, {"nodes", h.nodes}, {"best_step_s", h.step_s > 0 ? nlohmann::json(h.step_s) : nlohmann::json()}});
  return {{"best_step_s", c.step_s},
          {"best_even_split_step_s", c.even_split_step_s > 0 ? nlohmann::json(c.even_split_step_s) : nlohmann::json()},
          {"best_even_split_plan", c.even_split_plan},
          {"homogeneous", homogeneous}};
}

}  // namespace hpsim::apps
