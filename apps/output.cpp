#include "apps/output.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "costs/compute_cost.hpp"
#include "planner/framework.hpp"
#include "planner/plan_fields.hpp"

namespace hpsim::apps {

using nlohmann::json;

std::string gib(core::Bytes b) { return fmt::format("{:.1f}", b.value() / (1024.0 * 1024.0 * 1024.0)); }

std::string cluster_label(const topologies::ClusterSpec& cluster) {
  return fmt::format("{}:{}", cluster.name, cluster.nodes);
}

namespace {

/// RFC 4180: a cell with a comma, quote or line break is quoted, its quotes doubled.
std::string csv_cell(const std::string& cell) {
  if (cell.find_first_of(",\"\n") == std::string::npos) return cell;
  std::string out = "\"";
  for (const char c : cell) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string TextTable::render(Format format) const {
  std::string out;
  auto join = [](const std::vector<std::string>& cells, const std::string& sep) {
    std::string s;
    for (std::size_t i = 0; i < cells.size(); ++i) s += (i ? sep : "") + cells[i];
    return s;
  };
  if (format == Format::csv) {
    auto quoted = [](std::vector<std::string> cells) {
      for (auto& c : cells) c = csv_cell(c);
      return cells;
    };
    out += join(quoted(header), ",") + "\n";
    for (const auto& r : rows) out += join(quoted(r), ",") + "\n";
    return out;
  }
  if (format == Format::md) {
    out += "| " + join(header, " | ") + " |\n|";
    for (std::size_t i = 0; i < header.size(); ++i) out += (i == 0 ? " --- |" : " ---: |");
    out += "\n";
    for (const auto& r : rows) out += "| " + join(r, " | ") + " |\n";
    return out;
  }
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      // First column left-aligned (names), the rest right-aligned (numbers).
      s += i == 0 ? fmt::format("{:<{}}", cells[i], width[i]) : fmt::format("  {:>{}}", cells[i], width[i]);
    }
    return s + "\n";
  };
  out += line(header);
  std::size_t total = 0;
  for (auto w : width) total += w + 2;
  out += std::string(total - 2, '-') + "\n";
  for (const auto& r : rows) out += line(r);
  return out;
}

json plan_to_json(const planner::Plan& p) {
  json j = json::object();
  for (const auto& f : planner::plan_field_table()) {
    const std::int64_t code = f.get(p);
    const std::string key(f.key);
    switch (f.type) {
      case planner::FieldType::integer: j[key] = code; break;
      case planner::FieldType::boolean: j[key] = code != 0; break;
      case planner::FieldType::choice: j[key] = planner::field_value_text(f, code); break;
      case planner::FieldType::number: j[key] = static_cast<double>(code) / planner::kNumberScale; break;
    }
  }
  if (!p.pipeline_layers.empty()) j[std::string(planner::pipeline_layers_field().key)] = p.pipeline_layers;
  return j;
}

namespace {

/// Decoder layers per pipeline stage (all its virtual stages), from the per-virtual-stage counts.
std::vector<std::int64_t> layers_per_stage(const planner::StepResult& r) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(r.plan.pp), 0);
  for (std::size_t vs = 0; vs < r.layers_per_virtual_stage.size(); ++vs)
    out[vs % out.size()] += r.layers_per_virtual_stage[vs];
  return out;
}

json split_to_json(const planner::StepResult& r) {
  return json{{"even", split_is_even(r)},
              {"layers_per_stage", layers_per_stage(r)},
              {"layers_per_virtual_stage", r.layers_per_virtual_stage}};
}

/// One line naming the layers of each stage, for an uneven split only (an even one says nothing new).
std::string split_to_text(const planner::StepResult& r) {
  if (split_is_even(r)) return "";
  std::string stages, virtual_stages;
  for (const auto n : layers_per_stage(r)) stages += fmt::format(" {}", n);
  for (const auto n : r.layers_per_virtual_stage) virtual_stages += fmt::format(" {}", n);
  std::string out = fmt::format("pipeline split  layers per stage{}  (embedding on stage 0, LM head and loss on stage "
                                "{})\n", stages, r.plan.pp - 1);
  if (r.plan.vpp > 1) out += fmt::format("                layers per virtual stage{}\n", virtual_stages);
  return out;
}

}  // namespace

bool split_is_even(const planner::StepResult& r) {
  const auto& l = r.layers_per_virtual_stage;
  return std::adjacent_find(l.begin(), l.end(), std::not_equal_to<>()) == l.end();
}

std::string stage_layers_text(const planner::StepResult& r) {
  const auto stages = layers_per_stage(r);
  std::string out;
  for (std::size_t i = 0; i < stages.size();) {
    std::size_t j = i;
    while (j < stages.size() && stages[j] == stages[i]) ++j;
    out += (i ? "," : "") + std::to_string(stages[i]) + (j - i > 1 ? "x" + std::to_string(j - i) : "");
    i = j;
  }
  return out;
}

json step_to_json(const planner::StepResult& r) {
  const auto& b = r.breakdown;
  const auto& m = r.memory;
  return json{{"plan", plan_to_json(r.plan)},
              {"gpus", r.gpus},
              {"step_time_s", r.step_time.value()},
              {"tokens_per_s", r.tokens_per_s},
              {"model_tflops_per_gpu", r.model_tflops_per_gpu},
              {"hardware_tflops_per_gpu", r.hardware_tflops_per_gpu},
              {"mfu", r.mfu},
              {"memory",
               {{"peak_bytes_per_gpu", m.peak.value()},
                {"capacity_bytes", m.capacity.value()},
                {"usable_bytes", m.usable.value()},
                {"fits", m.fits()},
                {"weights_bytes", m.weights.value()},
                {"gradients_bytes", m.gradients.value()},
                {"optimizer_bytes", m.optimizer.value()},
                {"activations_bytes", m.activations.value()},
                {"buffers_bytes", m.buffers.value()},
                {"peak_stage", m.stage}}},
              {"breakdown_s",
               {{"compute", b.compute.value()},
                {"tp_comm_exposed", b.tp_comm_exposed.value()},
                {"cp_comm_exposed", b.cp_comm_exposed.value()},
                {"ep_comm_exposed", b.ep_comm_exposed.value()},
                {"pp_bubble", b.pp_bubble.value()},
                {"pp_comm_exposed", b.pp_comm_exposed.value()},
                {"dp_comm_exposed", b.dp_comm_exposed.value()},
                {"other", b.other.value()}}},
              {"pipeline_split", split_to_json(r)},
              {"simulated_tasks", r.tasks},
              {"simulated_events", r.events}};
}

std::string step_to_text(const planner::StepResult& r, const models::ModelSpec& model,
                         const topologies::ClusterSpec& cluster) {
  const auto& p = r.plan;
  const auto& b = r.breakdown;
  const auto& m = r.memory;
  const double step = r.step_time.value();
  std::string out;
  out += fmt::format("{} on {} x{} ({} GPUs used of {})\n", model.name, cluster.name, cluster.nodes, r.gpus,
                     cluster.total_gpus());
  // The framework and how it issues operators, since an unstated framework follows from the plan (zero 3: fsdp).
  out += fmt::format("plan  tp {}  pp {}  dp {}  cp {}  ep {}  vpp {}  mbs {}  gbs {}  seq {}  recompute {}  sp {}  "
                     "zero {}  {}  {}  {} ({})\n\n",
                     p.tp, p.pp, p.dp, p.cp, p.ep, p.vpp, p.micro_batch_size, p.global_batch_size, p.seq_length,
                     planner::to_string(p.recompute), p.sp ? "on" : "off", p.zero, topologies::to_string(p.precision),
                     planner::to_string(p.schedule), planner::to_string(p.framework),
                     costs::kExecutionNames[static_cast<std::size_t>(p.execution)]);
  out += split_to_text(r);
  if (!split_is_even(r)) out += "\n";
  out += fmt::format("step time   {:.3f} s    {:.0f} tokens/s    MFU {:.1f} %  ({:.1f} model / {:.1f} hardware "
                     "TFLOP/s per GPU)\n\n",
                     step, r.tokens_per_s, r.mfu * 100, r.model_tflops_per_gpu, r.hardware_tflops_per_gpu);
  const std::vector<std::pair<std::string, double>> parts = {
      {"compute", b.compute.value()},          {"TP comm exposed", b.tp_comm_exposed.value()},
      {"CP comm exposed", b.cp_comm_exposed.value()}, {"EP comm exposed", b.ep_comm_exposed.value()},
      {"PP bubble", b.pp_bubble.value()},      {"PP comm exposed", b.pp_comm_exposed.value()},
      {"DP comm exposed", b.dp_comm_exposed.value()}, {"other (optimizer)", b.other.value()}};
  out += "breakdown\n";
  for (const auto& [name, secs] : parts) {
    if (secs <= 0 && name != "compute" && name.rfind("CP", 0) == 0) continue;
    if (secs <= 0 && name.rfind("EP", 0) == 0) continue;
    const double share = step > 0 ? secs / step : 0;
    const auto bar = static_cast<std::size_t>(std::lround(share * 40));
    out += fmt::format("  {:<18} {:>9.3f} s {:>6.1f} %  {}\n", name, secs, share * 100, std::string(bar, '#'));
  }
  out += fmt::format("\nmemory per GPU (stage {})  {} GiB of {} GiB usable ({} GiB HBM)  {}\n", m.stage, gib(m.peak),
                     gib(m.usable), gib(m.capacity), m.fits() ? "fits" : "DOES NOT FIT");
  out += fmt::format("  weights {}  gradients {}  optimizer {}  activations {}  buffers {}  (GiB)\n", gib(m.weights),
                     gib(m.gradients), gib(m.optimizer), gib(m.activations), gib(m.buffers));
  return out;
}

json plan_quality_to_json(const std::vector<planner::PlanQuality>& quality) {
  json out = json::array();
  for (const auto& q : quality)
    out.push_back({{"id", q.id},
                   {"case_plan_step_time_s", q.case_plan_s},
                   {"best_step_time_s", q.best_s},
                   {"best_plan", plan_to_json(q.best_plan)},
                   {"same_features_best_step_time_s", q.same_features_best_s},
                   {"same_features_best_plan", plan_to_json(q.same_features_best_plan)},
                   {"case_plan_rank", q.case_plan_rank},
                   {"same_features_feasible", q.same_features_feasible},
                   {"feasible", q.feasible},
                   {"search_time_s", q.search_time_s},
                   {"note", q.note}});
  return out;
}

std::string plan_quality_to_text(const std::vector<planner::PlanQuality>& quality, Format format) {
  TextTable t;
  t.header = {"case", "case plan s", "rank (same features)", "best same features s", "best s", "best plan",
              "search s"};
  for (const auto& q : quality)
    t.rows.push_back({q.id, fmt::format("{:.3f}", q.case_plan_s),
                      fmt::format("{} of {}", q.case_plan_rank, q.same_features_feasible),
                      fmt::format("{:.3f}", q.same_features_best_s), fmt::format("{:.3f}", q.best_s),
                      q.note.empty() ? planner::plan_summary_text(q.best_plan) : q.note,
                      fmt::format("{:.2f}", q.search_time_s)});
  return t.render(format);
}

json validation_to_json(const planner::ValidationReport& report) {
  json cases = json::array();
  for (const auto& c : report.cases) {
    const bool measured_memory = c.measured_peak_memory_gib > 0;  // the source reports it
    cases.push_back({{"id", c.id},
                     {"group", c.group},
                     {"predicted_step_time_s", c.predicted_step_time_s},
                     {"measured_step_time_s", c.measured_step_time_s},
                     {"error", c.error},
                     {"fits", c.result.memory.fits()},
                     {"peak_bytes_per_gpu", c.result.memory.peak.value()},
                     {"measured_peak_memory_gib", measured_memory ? json(c.measured_peak_memory_gib) : json()},
                     {"memory_error", measured_memory ? json(c.memory_error) : json()},
                     {"result", step_to_json(c.result)}});
  }
  for (const auto& r : report.refused) cases.push_back({{"id", r.id}, {"refused", r.reason}});
  json rankings = json::array();
  for (const auto& g : report.rankings)
    rankings.push_back({{"group", g.group},
                        {"cases", g.cases},
                        {"kendall_tau", g.kendall_tau},
                        {"predicted_fastest", g.predicted_fastest},
                        {"predicted_fastest_measured_rank", g.its_measured_rank},
                        {"predicted_fastest_measured_gap", g.its_measured_gap}});
  return json{{"cases", cases},
              {"answered", report.cases.size()},
              {"refused", report.refused.size()},
              {"mape", report.mape},
              {"max_abs_error", report.max_abs_error},
              {"rankings", rankings},
              {"mean_kendall_tau", report.mean_kendall_tau},
              {"memory", {{"cases", report.memory_cases},
                          {"mape", report.memory_mape},
                          {"max_abs_error", report.memory_max_abs_error},
                          {"mean_error", report.memory_mean_error}}}};
}

std::string validation_to_text(const planner::ValidationReport& report, Format format) {
  TextTable t;
  t.header = {"case", "predicted s", "measured s", "error %", "fits", "peak GiB", "measured GiB"};
  for (const auto& c : report.cases)
    t.rows.push_back({c.id, fmt::format("{:.3f}", c.predicted_step_time_s), fmt::format("{:.3f}", c.measured_step_time_s),
                      fmt::format("{:+.1f}", c.error * 100), c.result.memory.fits() ? "yes" : "NO",
                      gib(c.result.memory.peak),
                      c.measured_peak_memory_gib > 0 ? fmt::format("{:.1f}", c.measured_peak_memory_gib) : ""});
  if (format == Format::csv) {  // one table: a refused case is a row with its reason in the last column
    if (!report.refused.empty()) {
      t.header.push_back("refused");
      for (auto& row : t.rows) row.push_back("");
      for (const auto& r : report.refused) t.rows.push_back({r.id, "", "", "", "", "", "", r.reason});
    }
    return t.render(format);
  }
  std::string out = t.render(format);
  if (!report.refused.empty()) {
    TextTable refused;
    refused.header = {"refused case", "why hpsim cannot express it"};
    for (const auto& r : report.refused) refused.rows.push_back({r.id, r.reason});
    out += "\n" + refused.render(format);
  }
  out += fmt::format("\nMAPE {:.2f} %   max |error| {:.2f} %   over {} answered cases", report.mape * 100,
                     report.max_abs_error * 100, report.cases.size());
  out += report.refused.empty() ? "\n" : fmt::format("; {} refused (excluded)\n", report.refused.size());
  if (report.memory_cases > 0)
    out += fmt::format("peak memory against the {} runs that report it: MAPE {:.2f} %   max |error| {:.2f} %   mean "
                       "error {:+.2f} %\n",
                       report.memory_cases, report.memory_mape * 100, report.memory_max_abs_error * 100,
                       report.memory_mean_error * 100);
  if (!report.rankings.empty()) {
    out += fmt::format("rank correlation (Kendall tau) within groups of the same model and GPU count: mean {:.3f}\n",
                       report.mean_kendall_tau);
    for (const auto& g : report.rankings)
      out += fmt::format("  {:<28} {:>3} runs  tau {:+.3f}\n", g.group, g.cases, g.kendall_tau);
  }
  return out;
}

}  // namespace hpsim::apps
