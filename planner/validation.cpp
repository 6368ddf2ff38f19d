#include "planner/validation.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/units.hpp"
#include "models/formulas.hpp"
#include "planner/plan_fields.hpp"
#include "planner/search.hpp"

namespace hpsim::planner {

double kendall_tau(const std::vector<double>& a, const std::vector<double>& b) {
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = i + 1; j < a.size(); ++j) {
      const double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0 && db == 0) continue;
      if (da == 0) ties_a += 1;
      else if (db == 0) ties_b += 1;
      else if ((da > 0) == (db > 0)) concordant += 1;
      else discordant += 1;
    }
  const double denom = std::sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b));
  return denom > 0 ? (concordant - discordant) / denom : 0.0;
}

ValidationReport validate_cases(const std::vector<ValidationCase>& cases) {
  ValidationReport report;
  double abs_sum = 0;
  for (const auto& c : cases) {
    if (!c.refused.empty()) {
      report.refused.push_back({c.id, c.refused});
      continue;
    }
    CaseOutcome o;
    o.id = c.id;
    o.group = fmt::format("{:.1f}B params / {} GPUs", static_cast<double>(models::total_parameters(c.model)) / 1e9,
                          c.plan.gpus());
    try {
      o.result = simulate_step(Scenario(c.model, c.cluster), c.plan).result;
    } catch (const core::InputError& e) {
      report.refused.push_back({c.id, e.what()});
      continue;
    }
    o.predicted_step_time_s = o.result.step_time.value();
    o.measured_step_time_s = c.measured_step_time_s;
    o.error = (o.predicted_step_time_s - o.measured_step_time_s) / o.measured_step_time_s;
    abs_sum += std::abs(o.error);
    report.max_abs_error = std::max(report.max_abs_error, std::abs(o.error));
    if (c.measured_peak_memory_gib > 0) {
      o.measured_peak_memory_gib = c.measured_peak_memory_gib;
      const core::Bytes measured = core::gib(c.measured_peak_memory_gib);
      o.memory_error = (o.result.memory.peak - measured) / measured;
      report.memory_cases += 1;
      report.memory_mape += std::abs(o.memory_error);
      report.memory_mean_error += o.memory_error;
      report.memory_max_abs_error = std::max(report.memory_max_abs_error, std::abs(o.memory_error));
    }
    report.cases.push_back(std::move(o));
  }
  report.mape = report.cases.empty() ? 0.0 : abs_sum / static_cast<double>(report.cases.size());
  if (report.memory_cases > 0) {
    report.memory_mape /= static_cast<double>(report.memory_cases);
    report.memory_mean_error /= static_cast<double>(report.memory_cases);
  }

  std::map<std::string, std::vector<const CaseOutcome*>> groups;
  for (const auto& o : report.cases) groups[o.group].push_back(&o);
  double weighted = 0, pairs = 0;
  for (const auto& [name, members] : groups) {
    if (members.size() < 3) continue;
    std::vector<double> predicted, measured;
    for (const auto* o : members) {
      predicted.push_back(o->predicted_step_time_s);
      measured.push_back(o->measured_step_time_s);
    }
    const double tau = kendall_tau(predicted, measured);
    const double n = static_cast<double>(members.size());
    GroupRanking g;
    g.group = name;
    g.cases = members.size();
    g.kendall_tau = tau;
    const auto fastest = static_cast<std::size_t>(std::min_element(predicted.begin(), predicted.end()) - predicted.begin());
    g.predicted_fastest = members[fastest]->id;
    g.its_measured_rank = 1;
    for (double t : measured) g.its_measured_rank += t < measured[fastest];
    g.its_measured_gap = measured[fastest] / *std::min_element(measured.begin(), measured.end()) - 1;
    report.rankings.push_back(g);
    weighted += tau * n * (n - 1) / 2;
    pairs += n * (n - 1) / 2;
  }
  report.mean_kendall_tau = pairs > 0 ? weighted / pairs : 0.0;
  return report;
}

std::vector<PlanQuality> plan_quality(const std::vector<ValidationCase>& cases, const ValidationReport& report) {
  std::map<std::string, const ValidationCase*> by_id;
  for (const auto& c : cases) by_id[c.id] = &c;
  std::vector<PlanQuality> out;
  for (const auto& outcome : report.cases) {  // refused cases have no plan to search around
    const auto& c = *by_id.at(outcome.id);
    // The case's fixed fields (batch, sequence, precision, overlaps) as they are; the searched ones free, except
    // flash attention, which the case's software either had or not.
    SearchSpace space;
    space.gpus = c.plan.gpus();
    space.fixed = c.plan;
    // The case's pipeline split fits its own pp and vpp only: the search chooses the balanced one for each.
    for (const PlanKey k : {PlanKey::decoder_first_pipeline_num_layers, PlanKey::decoder_last_pipeline_num_layers,
                            PlanKey::account_for_embedding_in_pipeline_split, PlanKey::account_for_loss_in_pipeline_split})
      space.set(k, 0);
    space.set(PlanKey::flash_attention, c.plan.flash_attention);
    // The case's software as it ran: its framework and the kernels it chose, not the framework's defaults.
    for (const PlanKey k : {PlanKey::framework, PlanKey::execution, PlanKey::attention_backend, PlanKey::fp8_recipe})
      space.set(k, plan_field(k).get(c.plan));
    SearchOptions best_only;
    best_only.top_k = 1;
    best_only.throw_if_nothing_fits = false;
    PlanQuality q;
    q.id = c.id;
    q.case_plan_s = outcome.predicted_step_time_s;
    const Scenario scenario(c.model, c.cluster);
    const SearchResult r = search_plans(scenario, space, best_only);
    q.feasible = r.feasible;
    q.search_time_s = r.search_time_s;
    if (r.plans.empty()) {
      q.note = "no plan of the whole space fits in memory";
      out.push_back(q);
      continue;
    }
    q.best_s = r.plans.front().step_time.value();
    q.best_plan = r.plans.front().plan;

    SearchSpace same = space;  // the case's features: only tp, pp, vpp and the micro-batch searched
    for (const PlanKey k : {PlanKey::recompute, PlanKey::sp, PlanKey::zero, PlanKey::cp, PlanKey::ep,
                            PlanKey::expert_tensor_parallel_size, PlanKey::schedule, PlanKey::parameter_servers})
      same.set(k, plan_field(k).get(c.plan));
    SearchOptions ranked = best_only;
    ranked.rank_time_s = outcome.predicted_step_time_s;
    const SearchResult s = search_plans(scenario, same, ranked);
    q.same_features_feasible = s.feasible;
    q.case_plan_rank = 1 + s.faster_than_rank_time;
    if (s.plans.empty()) {
      q.note = "no plan with the case's features fits in memory (the published run did: a memory-model error)";
    } else {
      q.same_features_best_s = s.plans.front().step_time.value();
      q.same_features_best_plan = s.plans.front().plan;
    }
    out.push_back(q);
  }
  return out;
}

}  // namespace hpsim::planner
