#pragma once
/// `--train-tokens`: the flag's value, and the whole run of a plan (planner/whole_run.hpp) as JSON, text and a table.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/output.hpp"
#include "planner/whole_run.hpp"

namespace hpsim::apps {

/// The flag's text as a token count in (0, 1e18]; nullopt when empty (not given). Else an InputError naming it.
std::optional<double> train_tokens_flag(const std::string& text);

/// CONTRACT's `whole_run` object (non-finite or unknown figures are null), with the figures behind it.
nlohmann::json whole_run_to_json(const planner::WholeRun& w);
/// simulate's `stragglers` object: {p50_step_s, p99_step_s, loss, samples, seed} and how they were found.
nlohmann::json stragglers_to_json(const planner::StragglerStats& s);
/// simulate's "stragglers" section: the step's spread under the cluster's slow GPUs.
std::string stragglers_to_text(const planner::StragglerStats& s, const topologies::ClusterSpec& cluster);

/// simulate's "whole run" section.
std::string whole_run_to_text(const planner::WholeRun& w, const topologies::ClusterSpec& cluster);
/// plan's "whole run" table: one row per plan, in the plans' order.
TextTable whole_run_table(const std::vector<planner::WholeRun>& runs);

}  // namespace hpsim::apps
