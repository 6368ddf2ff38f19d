#include "apps/whole_run_output.hpp"

#include <cmath>

#include <fmt/format.h>

#include "core/error.hpp"

namespace hpsim::apps {

namespace {

using nlohmann::json;

/// A number, or null when it is not finite (a run that never ends) or unknown.
json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(); }
json number_or_null(const std::optional<double>& v) { return v ? number_or_null(*v) : json(); }

std::string days_text(double s) { return std::isfinite(s) ? fmt::format("{:.1f}", s / 86400.0) : "never"; }
std::string days_text(const std::optional<double>& s) { return s ? days_text(*s) : "-"; }

/// "12.3 min", "3.09 h", "45 s": a duration in the unit that reads best.
std::string duration_text(double s) {
  if (!std::isfinite(s)) return "never";
  if (s >= 2 * 3600.0) return fmt::format("{:.2f} h", s / 3600.0);
  if (s >= 120.0) return fmt::format("{:.1f} min", s / 60.0);
  return fmt::format("{:.1f} s", s);
}

std::string cost_text(const std::optional<double>& usd) {
  return usd ? fmt::format("${:.3g}M", *usd / 1e6) : "unknown (no gpu_hour_price_usd)";
}

}  // namespace

std::optional<double> train_tokens_flag(const std::string& text) {
  if (text.empty()) return std::nullopt;
  double v = 0;
  std::size_t used = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(v) || !(v > 0) || v > planner::kMaxTrainTokens)
    throw core::InputError("command line", "--train-tokens",
                           "expected a number of training tokens in (0, 1e18], e.g. 15e12, got '" + text + "'");
  return v;
}

json whole_run_to_json(const planner::WholeRun& w) {
  const auto days = [](const std::optional<double>& s) { return s ? number_or_null(*s / 86400.0) : json(); };
  json j{{"train_tokens", w.train_tokens},
              {"days", number_or_null(w.days())},
              {"gpu_hours", number_or_null(w.gpu_hours)},
              {"cost", number_or_null(w.cost_usd)},
              {"checkpoint_bytes", w.checkpoint_bytes},
              {"checkpoint_interval_s", number_or_null(w.checkpoint_interval_s)},
              {"expected_interruptions", number_or_null(w.expected_interruptions)},
              {"goodput", w.goodput},
              {"days_p50", days(w.p50_s)},
              {"days_p90", days(w.p90_s)},
              {"straggler_loss", w.straggler_loss},
              {"straggler_estimate", w.stragglers_simulated ? "simulated" : "closed form"},
              // What the figures above come from.
              {"steps", w.steps},
              {"gpus", w.gpus},
              {"step_time_s", w.step_time_s},
              {"ideal_days", w.ideal_s / 86400.0},
              {"checkpoint_interval_steps", w.checkpoint_interval_steps},
              {"young_interval_s", w.young_interval_s},
              {"checkpoint_write_s", w.checkpoint_write_s},
              {"restart_s", w.restart_s},
              {"mtbf_s", number_or_null(w.mtbf_s)},
              {"energy_mwh", number_or_null(w.energy_mwh)}};
  if (w.stragglers) j["stragglers"] = stragglers_to_json(*w.stragglers);
  return j;
}

json stragglers_to_json(const planner::StragglerStats& s) {
  return json{{"p50_step_s", s.p50_step_s},
              {"p99_step_s", s.p99_step_s},
              {"loss", s.loss},
              {"samples", s.samples},
              {"seed", s.seed},
              {"mean_step_s", s.mean_step_s},
              {"healthy_step_s", s.healthy_step_s},
              {"method", s.simulated ? "simulated" : "closed form"},
              {"simulations", s.simulations}};
}

std::string stragglers_to_text(const planner::StragglerStats& s, const topologies::ClusterSpec& cluster) {
  const auto& run = cluster.run;
  std::string stated;
  if (!run.slow_gpus.empty()) stated = fmt::format("{} listed slow GPUs or nodes", run.slow_gpus.size());
  if (run.slow_node_fraction > 0 && run.slow_node_slowdown > 1)
    stated += fmt::format("{}{:g} of nodes {:g}x slower", stated.empty() ? "" : ", ", run.slow_node_fraction,
                          run.slow_node_slowdown);
  std::string out = fmt::format("\nstragglers  {}\n", stated);
  out += fmt::format("  step time      p50 {:.3f} s, p99 {:.3f} s, mean {:.3f} s (healthy {:.3f} s): {:.1f} % lost\n",
                     s.p50_step_s, s.p99_step_s, s.mean_step_s, s.healthy_step_s, s.loss * 100);
  out += s.simulated
             ? fmt::format("  method         {} seeded placements (seed {}), {} simulated with every GPU\n", s.samples,
                           s.seed, s.simulations)
             : std::string("  method         closed form (simulating every placement would cost too much)\n");
  return out;
}

std::string whole_run_to_text(const planner::WholeRun& w, const topologies::ClusterSpec& cluster) {
  std::string out = fmt::format("\nwhole run  {:.4g} tokens: {} steps of {:.3f} s on {} GPUs\n", w.train_tokens,
                                w.steps, w.step_time_s, w.gpus);
  out += fmt::format("  time           {} days expected (p50 {}, p90 {}); {} days without interruptions\n",
                     days_text(w.expected_s), days_text(w.p50_s), days_text(w.p90_s), days_text(w.ideal_s));
  out += fmt::format("  GPU time       {:.4g} GPU-hours, cost {}", w.gpu_hours, cost_text(w.cost_usd));
  out += w.energy_mwh ? fmt::format(", energy {:.4g} MWh at the GPUs' TDP\n", *w.energy_mwh) : "\n";
  out += fmt::format("  checkpoints    {:.3g} TB, written in {} every {} steps ({}; Daly's interval, Young's {})\n",
                     w.checkpoint_bytes / 1e12, duration_text(w.checkpoint_write_s), w.checkpoint_interval_steps,
                     duration_text(w.checkpoint_interval_s), duration_text(w.young_interval_s));
  out += fmt::format("  interruptions  {:.0f} expected (one every {}), restart {} each; goodput {:.1f} %\n",
                     w.expected_interruptions, duration_text(w.mtbf_s), duration_text(w.restart_s), w.goodput * 100);
  out += planner::has_stragglers(cluster.run)
             ? fmt::format("  stragglers     {:.1f} % of the time lost ({})\n", w.straggler_loss * 100,
                           w.stragglers_simulated ? "simulated placements" : "closed form")
             : "  stragglers     none stated (slow_node_fraction 0, no slow_gpus or slow_nodes)\n";
  return out;
}

TextTable whole_run_table(const std::vector<planner::WholeRun>& runs) {
  TextTable t;
  t.header = {"rank", "days", "p50", "p90", "GPU-hours", "cost $M", "goodput %", "interrupts", "ckpt every",
              "straggler %"};
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& w = runs[i];
    t.rows.push_back({std::to_string(i + 1), days_text(w.expected_s), days_text(w.p50_s), days_text(w.p90_s),
                      fmt::format("{:.4g}", w.gpu_hours), w.cost_usd ? fmt::format("{:.3g}", *w.cost_usd / 1e6) : "-",
                      fmt::format("{:.1f}", w.goodput * 100), fmt::format("{:.0f}", w.expected_interruptions),
                      duration_text(w.checkpoint_interval_s), fmt::format("{:.1f}", w.straggler_loss * 100)});
  }
  return t;
}

}  // namespace hpsim::apps
