#include "apps/what_if.hpp"

#include "apps/output.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "apps/plan_constraints.hpp"
#include "apps/progress_bar.hpp"
#include "core/error.hpp"
#include "core/fields.hpp"
#include "models/model_fields.hpp"
#include "planner/plan_fields.hpp"
#include "topologies/cluster_fields.hpp"

namespace hpsim::apps {

namespace {

/// What a sweep may vary: a plan field the search does not vary (global_batch_size, seq_length, precision, the
/// overlaps), the GPUs used, a cluster file's scalar key or GPU memory, or a key of the model file.
std::vector<std::string> space_keys() {
  std::vector<std::string> keys = {"gpus"};
  for (const auto& f : planner::plan_field_table())
    if (!f.searched) keys.emplace_back(f.key);
  return keys;
}

std::vector<std::string> cluster_keys() {
  std::vector<std::string> keys = {"hbm_gib"};  // the GPU's, applied to the point's GPU
  for (const auto& f : topologies::cluster_field_table())
    if (f.section == topologies::ClusterSection::cluster && f.sweepable) keys.emplace_back(f.key);
  return keys;
}

std::vector<std::string> model_keys() {
  std::vector<std::string> keys;
  for (const auto& field : models::model_field_table())
    if (field.sweepable) keys.emplace_back(field.key);
  return keys;
}

bool contains(const std::vector<std::string>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

/// The cluster as given: a file's mapping, or a preset reference the overrides apply on top of.
YAML::Node cluster_fields(const std::string& ref) {
  if (core::is_file(ref)) return YAML::Clone(core::load_yaml_file(ref));
  YAML::Node n(YAML::NodeType::Map);
  n["preset"] = ref;
  return n;
}

/// hbm_gib belongs to the GPU: override it on the point's GPU (a preset name or an inline GPU mapping).
void set_hbm(YAML::Node& cluster, const std::string& base_gpu, const std::string& value) {
  YAML::Node gpu = cluster["gpu"];
  YAML::Node mapping(YAML::NodeType::Map);
  if (gpu.IsDefined() && gpu.IsMap()) mapping = YAML::Clone(gpu);
  else mapping["preset"] = gpu.IsDefined() ? gpu.Scalar() : base_gpu;
  mapping["hbm_gib"] = value;
  cluster["gpu"] = mapping;
}

}  // namespace

std::vector<SweepAxis> parse_sweep(const std::vector<std::string>& sets) {
  std::vector<SweepAxis> axes;
  for (const auto& set : sets) {
    const auto eq = set.find('=');
    SweepAxis axis{set.substr(0, eq == std::string::npos ? set.size() : eq), {}};
    if (eq == std::string::npos || eq + 1 == set.size())
      throw core::InputError("command line", "--set", "expected KEY=V1,V2,..., got '" + set + "'");
    const auto plan = space_keys(), cluster = cluster_keys(), model = model_keys();
    if (!contains(plan, axis.key) && !contains(cluster, axis.key) && !contains(model, axis.key))
      throw core::InputError("command line", "--set",
                             fmt::format("unknown key '{}' (cluster: {}; model: {}; plan: {})", axis.key,
                                         join(cluster), join(model), join(plan)));
    for (const auto& a : axes)
      if (a.key == axis.key) throw core::InputError("command line", "--set", "key '" + axis.key + "' given twice");
    std::size_t start = eq + 1;
    while (true) {
      const auto comma = set.find(',', start);
      const std::string v = set.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (v.empty()) throw core::InputError("command line", "--set", "empty value in '" + set + "'");
      axis.values.push_back(v);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    axes.push_back(std::move(axis));
  }
  return axes;
}

PlanInputs apply_point(const PlanInputs& base, const std::vector<SweepAxis>& axes,
                       const std::vector<std::string>& values) {
  PlanInputs in = base;
  YAML::Node cluster, model;
  bool cluster_set = false, model_set = false;  // rebuilt only when a point overrides them
  for (std::size_t i = 0; i < axes.size(); ++i) {
    const std::string& key = axes[i].key;
    const std::string& v = values[i];
    const std::string flag = "--set " + key;
    if (key == "gpus") in.space.gpus = positive_integer_flag(v, flag);
    else if (const auto* field = planner::find_plan_field(key); field && field->key == key)
      in.space.set(field->id, planner::parse_field_value(*field, v, "--set"));
    else if (contains(cluster_keys(), key)) {
      if (!cluster_set) cluster = cluster_fields(base.cluster_ref), cluster_set = true;
      if (key == "hbm_gib") continue;  // applied once the point's GPU is known
      cluster[key] = v;
    } else {
      if (!model_set) model = models::model_to_node(base.model), model_set = true;
      model[key] = v;
    }
  }
  for (std::size_t i = 0; i < axes.size(); ++i)
    if (axes[i].key == "hbm_gib") set_hbm(cluster, base.cluster.gpu.name, values[i]);
  if (cluster_set) in.cluster = topologies::cluster_from_fields(core::Fields(cluster, "--set"));
  if (model_set) in.model = models::model_from_fields(core::Fields(model, "--set"));
  return in;
}

std::vector<SweepPoint> run_sweep(const PlanInputs& base, const std::vector<SweepAxis>& axes,
                                  planner::SearchOptions options) {
  std::size_t total = 1;
  for (const auto& a : axes) total *= a.values.size();
  ProgressBar bar;
  std::vector<SweepPoint> points;
  for (std::size_t index = 0; index < total; ++index) {
    SweepPoint point;
    for (std::size_t i = 0, rest = index; i < axes.size(); ++i) {
      std::size_t below = 1;  // points per value of axis i
      for (std::size_t j = i + 1; j < axes.size(); ++j) below *= axes[j].values.size();
      point.values.push_back(axes[i].values[rest / below]);
      rest %= below;
    }
    const PlanInputs in = apply_point(base, axes, point.values);  // bad values end the sweep (exit 2)
    const std::string label = fmt::format("point {}/{}", index + 1, total);
    options.progress = [&](double f) { bar.update((static_cast<double>(index) + f) / static_cast<double>(total), label); };
    options.throw_if_nothing_fits = false;
    try {
      auto result = planner::search_plans(planner::Scenario(in.model, in.cluster), in.space, options);
      if (result.plans.empty() && result.closest_miss)
        point.note = fmt::format("no plan fits (needs {} GiB)", apps::gib(result.closest_miss->memory.peak));
      else
        point.search = std::move(result);
    } catch (const core::InputError& e) {
      point.note = std::string("no plan keeps the rules: ") + e.what();  // e.g. tp pinned above a point's heads
    }
    points.push_back(std::move(point));
  }
  return points;
}

}  // namespace hpsim::apps
