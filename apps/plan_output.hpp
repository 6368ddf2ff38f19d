#pragma once
/// `hpsim plan` results as text: the ranked plans with the search's counts, and what-if sweeps.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/output.hpp"
#include "apps/what_if.hpp"
#include "planner/mixed_cluster.hpp"
#include "planner/search.hpp"

namespace hpsim::apps {

/// The top plans, one row each: rank, the searched fields, step time and where it goes.
TextTable plans_table(const planner::SearchResult& result);
/// Below the table: candidates, feasible, simulated, rejections by reason (most first), search time, why the best.
std::string search_summary(const planner::SearchResult& result);
/// CONTRACT's `plan` JSON: plans (simulate results), candidates, feasible, simulated, search_time_s, rejected, why_best.
nlohmann::json search_to_json(const planner::SearchResult& result, const models::ModelSpec& model,
                              const topologies::ClusterSpec& cluster);

/// A mixed cluster's best plan beside its alternatives: the homogeneous split, and every node of one GPU type.
TextTable mixed_cluster_table(const planner::MixedClusterComparison& c);
nlohmann::json mixed_cluster_to_json(const planner::MixedClusterComparison& c);

/// One row per sweep point: the swept values, then the best plan and its step time, or why there is none.
TextTable sweep_table(const std::vector<SweepAxis>& axes, const std::vector<SweepPoint>& points);
nlohmann::json sweep_to_json(const std::vector<SweepAxis>& axes, const std::vector<SweepPoint>& points,
                             const models::ModelSpec& model, const topologies::ClusterSpec& cluster);

}  // namespace hpsim::apps
