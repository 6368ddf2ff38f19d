#pragma once
/// Turning results into text: tables for people, JSON for machines, CSV and Markdown where a table makes sense.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/model_spec.hpp"
#include "planner/step_simulation.hpp"
#include "planner/validation.hpp"
#include "topologies/cluster_spec.hpp"

namespace hpsim::apps {

enum class Format { table, json, csv, md };

/// A plain table: header and rows of cells, printed aligned (table), as CSV or as Markdown.
struct TextTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  [[nodiscard]] std::string render(Format format) const;
};

nlohmann::json plan_to_json(const planner::Plan& plan);
nlohmann::json step_to_json(const planner::StepResult& r);
/// Whether every virtual stage holds the same number of layers.
bool split_is_even(const planner::StepResult& r);
/// The layers of each pipeline stage, repeats folded: "15,16x6,15".
std::string stage_layers_text(const planner::StepResult& r);
nlohmann::json validation_to_json(const planner::ValidationReport& report);

std::string step_to_text(const planner::StepResult& r, const models::ModelSpec& model,
                         const topologies::ClusterSpec& cluster);
std::string validation_to_text(const planner::ValidationReport& report, Format format);
nlohmann::json plan_quality_to_json(const std::vector<planner::PlanQuality>& quality);
std::string plan_quality_to_text(const std::vector<planner::PlanQuality>& quality, Format format);
/// "tp 8 pp 8 dp 16 cp 1 vpp 2 mbs 1 full sp off zero 0": a plan's searched fields in one short line.
std::string plan_summary(const planner::Plan& plan);

std::string gib(core::Bytes b);  ///< "51.2"
std::string cluster_label(const topologies::ClusterSpec& cluster);  ///< "dgx-h100:8"

}  // namespace hpsim::apps
