#pragma once
/// One self-contained HTML page (inline CSS, JavaScript and SVG written here; nothing fetched) for a plan, a sweep
/// or the CI report. C++ gathers the figures into one JSON object; the page's script draws the charts from it.
///
/// The page object (every key optional; a chart is drawn only when its data is there):
///   title, subtitle        text
///   plans                  [{label, rank, step_time_s, breakdown_s{...}, memory{...}, ...}]: ranked plans (or one per
///                          sweep point): step-time breakdown bars, memory per GPU by kind, step time vs memory scatter
///   plans_caption          what the plans are ("the 10 fastest plans", "the best plan of each sweep point")
///   timeline               {title, step_time_us, streams[], categories[], labels[], ranks[{name, tasks[[stream,
///                          category, start_us, duration_us, label]]}], shown_ranks, total_ranks}
///   accuracy               [{name, mape, max_abs_error, mean_kendall_tau|null, cases[{id, predicted_step_time_s,
///                          measured_step_time_s, error}], baseline?{...}}] (bench::accuracy_set_json)
///   speed                  the report's speed section (bench::report_page, bench/regression/report.hpp)
#include <string>

#include <nlohmann/json.hpp>

#include "planner/step_simulation.hpp"

namespace hpsim::apps {

/// One plan for the page: step_to_json plus a short label.
nlohmann::json html_plan_entry(const std::string& label, const planner::StepResult& r);

/// The simulated step per rank and stream. Shows at most `max_ranks` simulated ranks (the first ones).
nlohmann::json html_timeline(const std::string& title, const planner::StepGraph& graph, const sim::SimResult& timings,
                             int max_ranks = 16);

/// The page: HTML with the data embedded and the drawing script inline.
std::string render_html_page(const nlohmann::json& page);

/// Writes it; an unwritable path is an InputError naming `flag`.
void write_html_page(const std::string& path, const std::string& flag, const nlohmann::json& page);

}  // namespace hpsim::apps
